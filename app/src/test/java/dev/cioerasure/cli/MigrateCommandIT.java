package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.TestInfra;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What migrate says about the database it was run against. */
class MigrateCommandIT {
    private static Map<String, String> env(Settings.Database db) {
        return Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(), "DATABASE_PASSWORD", db.password().reveal());
    }

    /**
     * An older release's migrate against a database a newer release migrated (a rollback) said
     * "migrations applied: 0; schema version now 14", as if it had made it so.
     */
    @Test
    void aSchemaNewerThanThisReleaseIsNamedAsSuch() throws Exception {
        Settings.Database db = TestInfra.freshDatabase(); // migrated to this release's newest
        Cli.Run again = Cli.run(env(db), "migrate");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).matches("migrations applied: 0; schema version now \\d+\\R");
        String newestHere = again.out().replaceAll("(?s).*now (\\d+).*", "$1");

        int future = Integer.parseInt(newestHere) + 1;
        try (Connection c = TestInfra.dataSource(db).getConnection(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by,"
                    + " execution_time, success) VALUES (" + future + ", '" + future + "', 'from a newer release', 'SQL', 'V" + future
                    + "__from_a_newer_release.sql', 1, 'postgres', 1, true)");
        }
        Cli.Run older = Cli.run(env(db), "migrate");
        assertThat(older.exit()).as(older.err()).isZero();
        assertThat(older.out()).startsWith("migrations applied: 0; schema version " + future + " is newer than this release's newest"
                + " migration (" + newestHere + "): a newer release migrated this database, and nothing was changed.");
    }
}
