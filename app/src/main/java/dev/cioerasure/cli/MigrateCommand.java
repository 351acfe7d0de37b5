package dev.cioerasure.cli;

import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.audit.Databases;
import dev.cioerasure.audit.Migrations;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.preflight.SchemaAccess;
import dev.cioerasure.preflight.ServiceProblem;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = "Apply the database migrations (audit table, triggers, views). Needs DATABASE_URL, DATABASE_USER, DATABASE_PASSWORD of a role that may create tables.")
final class MigrateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.DATABASE));
        Preflight.database(s.database());
        try (HikariDataSource ds = Databases.pool(s.database(), "migrate", null)) {
            try (java.sql.Connection c = ds.getConnection(); java.sql.Statement st = c.createStatement()) {
                SchemaAccess.readOnly(st, s.database(), "migrate changes its tables");
                SchemaAccess.unicode(st, s.database(), "migrate makes the audit tables there");
            } catch (java.sql.SQLException e) {
                throw Preflight.explain(e, s.database());
            }
            Migrations.Result r;
            try {
                r = Migrations.migrateAndCompare(ds, System.err::println); // progress on stderr, the result on stdout
            } catch (org.flywaydb.core.api.FlywayException e) {
                // a login that may not create or read the tables is a setting, and says which
                ServiceProblem refused = SchemaAccess.explain(e, s.database(), SchemaAccess.Need.OWNER);
                if (refused != null) {
                    throw refused;
                }
                throw new Errors.UserError("migration failed: " + e.getMessage().lines().findFirst().orElse("")
                        + " (run migrate as the database owner; see docs/operations.md)", Errors.SOFTWARE);
            }
            if (r.schemaIsNewer()) {
                // a rollback: "schema version now 14" alone read as if this release had made it so
                System.out.println("migrations applied: 0; schema version " + r.schemaVersion() + " is newer than this release's newest"
                        + " migration (" + r.newestHere() + "): a newer release migrated this database, and nothing was changed. Run"
                        + " that release: an older worker may write what the newer schema does not expect");
                return 0;
            }
            System.out.println("migrations applied: " + r.applied() + "; schema version now " + r.schemaVersion());
            return 0;
        }
    }
}
