package dev.cioerasure.audit;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import dev.cioerasure.config.Settings;
import io.micrometer.core.instrument.MeterRegistry;

/** The PostgreSQL connection pool (HikariCP), with its metrics bound to Micrometer. */
public final class Databases {
    private Databases() { }

    public static HikariDataSource pool(Settings.Database db, String poolName, MeterRegistry meters) {
        HikariConfig c = new HikariConfig();
        c.setJdbcUrl(db.url());
        c.setUsername(db.user());
        c.setPassword(db.password().reveal());
        c.setMaximumPoolSize(db.poolSize());
        c.setPoolName(poolName);
        c.setConnectionTimeout(5_000);
        // Start even while PostgreSQL is down: the worker waits for it instead of failing.
        c.setInitializationFailTimeout(-1);
        c.addDataSourceProperty("reWriteBatchedInserts", "true");
        // Plan each query for the table as it is now: a plan cached while the audit table was
        // small (a sequential scan) would otherwise slow every look-up as the table grows.
        c.addDataSourceProperty("options", "-c plan_cache_mode=force_custom_plan");
        c.addDataSourceProperty("ApplicationName", "cio-erasure");
        // Every name cio-erasure's SQL uses lives in public (the migrations put it there). PostgreSQL's
        // default search path reads a schema named like the login role ("$user") first, and anyone
        // with CREATE on the database can make one: its look-alike audit_event would take the
        // worker's rows outside the chain, or show an auditor a chain cut short as INTACT. A session
        // setting, not the URL's options parameter, so that a DATABASE_URL with options cannot drop it;
        // pg_temp last, as a temporary table would otherwise come first.
        c.setConnectionInitSql("SET search_path = public, pg_temp");
        if (meters != null) {
            c.setMetricsTrackerFactory(new MicrometerMetricsTrackerFactory(meters));
        }
        return new HikariDataSource(c);
    }
}
