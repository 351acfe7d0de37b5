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

    /**
     * Migrates, and tells how the database's version compares with this release's newest
     * migration; {@code progress} hears each migration as it starts and as it ends, with its time
     * (one that rebuilds an index over a large table takes minutes, and said nothing meanwhile).
     */
    public static Result migrateAndCompare(DataSource dataSource, java.util.function.Consumer<String> progress) {
        Flyway flyway = flyway(dataSource, new Progress(progress));
        MigrateResult r = flyway.migrate();
        String newestHere = Arrays.stream(flyway.info().all()).filter(i -> i.getState().isResolved())
                .map(MigrationInfo::getVersion).max(MigrationVersion::compareTo).map(MigrationVersion::getVersion).orElse(null);
        return new Result(r.migrationsExecuted, r.targetSchemaVersion == null ? r.initialSchemaVersion : r.targetSchemaVersion, newestHere);
    }

    /** Says each migration as it starts and ends, with how long it took. */
    private static final class Progress extends org.flywaydb.core.api.callback.BaseCallback {
        private final java.util.function.Consumer<String> out;
        private long started;

        Progress(java.util.function.Consumer<String> out) {
            this.out = out;
        }

        @Override
        public boolean supports(org.flywaydb.core.api.callback.Event event, org.flywaydb.core.api.callback.Context context) {
            return event == org.flywaydb.core.api.callback.Event.BEFORE_EACH_MIGRATE
                    || event == org.flywaydb.core.api.callback.Event.AFTER_EACH_MIGRATE;
        }

        @Override
        public void handle(org.flywaydb.core.api.callback.Event event, org.flywaydb.core.api.callback.Context context) {
            MigrationInfo m = context.getMigrationInfo();
            String name = "V" + m.getVersion() + " (" + m.getDescription() + ")";
            if (event == org.flywaydb.core.api.callback.Event.BEFORE_EACH_MIGRATE) {
                started = System.nanoTime();
                out.accept("applying " + name + " …");
            } else {
                out.accept(String.format(java.util.Locale.ROOT, "applied %s in %.1f s", name, (System.nanoTime() - started) / 1e9));
            }
        }
    }

    private static Flyway flyway(DataSource dataSource, org.flywaydb.core.api.callback.Callback... callbacks) {
        return Flyway.configure()
                .dataSource(dataSource)
                .locations("classpath:db/migration")
                .cleanDisabled(true)
                .callbacks(callbacks)
                .load();
    }
}
