package dev.cioerasure.audit;

import java.util.Arrays;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationVersion;
import org.flywaydb.core.api.output.MigrateResult;

/** Applies the Flyway migrations in {@code db/migration} (shipped inside the jar). */
public final class Migrations {
    private Migrations() { }

    /**
     * What a migration run did.
     *
     * @param schemaVersion the database's version after it
     * @param newestHere    the newest migration this release holds
     */
    public record Result(int applied, String schemaVersion, String newestHere) {
        /** A newer release migrated the database: this one has nothing to apply, and is older than its schema. */
        public boolean schemaIsNewer() {
            return schemaVersion != null && newestHere != null
                    && MigrationVersion.fromVersion(schemaVersion).isNewerThan(newestHere);
        }
    }

    public static MigrateResult migrate(DataSource dataSource) {
        return flyway(dataSource).migrate();
    }

    /** Migrates, and tells how the database's version compares with this release's newest migration. */
    public static Result migrateAndCompare(DataSource dataSource) {
        Flyway flyway = flyway(dataSource);
        MigrateResult r = flyway.migrate();
        String newestHere = Arrays.stream(flyway.info().all()).filter(i -> i.getState().isResolved())
                .map(MigrationInfo::getVersion).max(MigrationVersion::compareTo).map(MigrationVersion::getVersion).orElse(null);
        return new Result(r.migrationsExecuted, r.targetSchemaVersion == null ? r.initialSchemaVersion : r.targetSchemaVersion, newestHere);
    }

    private static Flyway flyway(DataSource dataSource) {
        return Flyway.configure()
                .dataSource(dataSource)
                .locations("classpath:db/migration")
                .cleanDisabled(true)
                .load();
    }
}
