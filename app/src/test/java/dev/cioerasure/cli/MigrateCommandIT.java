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
     * Each migration is said as it starts and ends, with its time, on standard error: a migration
     * that rebuilds an index over a large table takes minutes (V13: 0.7 s per million rows), and
     * migrate said nothing until it was done. The result line stays alone on standard output.
     */
    @Test
    void eachMigrationIsSaidAsItStartsAndEnds() throws Exception {
        String name = "migrate_progress_" + ProcessHandle.current().pid();
        try (Connection c = TestInfra.postgres().superuserDataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        Settings.Database empty = new Settings.Database("jdbc:postgresql://localhost:" + TestInfra.postgres().port() + "/" + name,
                "postgres", dev.cioerasure.config.Secret.of("DATABASE_PASSWORD", "postgres"), 2);
        Cli.Run first = Cli.run(env(empty), "migrate");
        assertThat(first.exit()).as(first.err()).isZero();
        assertThat(first.out()).matches("migrations applied: (\\d+); schema version now \\1\\R");
        int applied = Integer.parseInt(first.out().replaceAll("(?s)migrations applied: (\\d+).*", "$1"));
        assertThat(first.err().lines().filter(l -> l.matches("applying V\\d+ \\(.+\\) …"))).hasSize(applied);
        assertThat(first.err().lines().filter(l -> l.matches("applied V\\d+ \\(.+\\) in \\d+\\.\\d s"))).hasSize(applied);
        assertThat(first.err()).contains("applying V1 (audit event) …", "applying V13 (record indexes only for record lookups) …");
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
