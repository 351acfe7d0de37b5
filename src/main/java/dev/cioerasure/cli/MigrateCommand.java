package dev.cioerasure.cli;

import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.audit.Databases;
import dev.cioerasure.audit.Migrations;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import org.flywaydb.core.api.output.MigrateResult;
import picocli.CommandLine.Command;

@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = "Apply the database migrations (audit table, triggers, views). Needs DATABASE_URL, DATABASE_USER, DATABASE_PASSWORD of a role that may create tables.")
final class MigrateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.DATABASE));
        try (HikariDataSource ds = Databases.pool(s.database(), "migrate", null)) {
            MigrateResult r = Migrations.migrate(ds);
            System.out.println("migrations applied: " + r.migrationsExecuted + "; schema version now "
                    + (r.targetSchemaVersion == null ? r.initialSchemaVersion : r.targetSchemaVersion));
            return 0;
        }
    }
}
