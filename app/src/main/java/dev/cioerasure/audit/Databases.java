package dev.cioerasure.audit;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import dev.cioerasure.config.Settings;
import dev.cioerasure.threads.DaemonThreads;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The PostgreSQL connection pool (HikariCP), with its metrics bound to Micrometer. */
public final class Databases {
    private static final Logger log = LoggerFactory.getLogger(Databases.class);
    /** How often a DATABASE_PASSWORD_FILE is looked at for a rotation. */
    static final Duration PASSWORD_CHECK_EVERY = Duration.ofSeconds(10);
    private static final ScheduledExecutorService PASSWORD_CHECKS =
            Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("database-password-file"));

    /**
     * How long the worker's connections wait for an answer to a statement that was sent, unless
     * DATABASE_URL sets {@code socketTimeout}. The driver's default is to wait for good: after a
     * failover, a connection to the old primary that stopped answering (nothing closed) held the
     * audit writer, and every request in flight, until TCP gave up (about 15 minutes on Linux), or
     * for ever when the peer still acknowledged (a frozen server). Long enough for the worker's
     * statements to wait out a migration's lock on the audit table (V13: 0.7 s per million rows).
     */
    public static final Duration WORKER_SOCKET_TIMEOUT = Duration.ofSeconds(120);
    /**
     * The same for the commands, whose statements may rightly take long (a report over years, a
     * migration that rebuilds an index over a billion rows) but not for ever: an {@code audit report}
     * run by cron after a failover waited for good.
     */
    public static final Duration COMMAND_SOCKET_TIMEOUT = Duration.ofHours(1);

    private Databases() { }

    /**
     * After a connection failed (SQLState class 08), the pool's idle connections are suspect too:
     * after a failover they all lead to the old primary. Each would be tried in turn, at up to 5 s
     * of validation apiece (30 s to recover in FaultsIT, with 5 s of socket timeout); evicted, the
     * next borrower opens a new one.
     */
    public static void evictIdle(javax.sql.DataSource dataSource) {
        if (dataSource instanceof HikariDataSource h && h.getHikariPoolMXBean() != null) {
            h.getHikariPoolMXBean().softEvictConnections();
        }
    }

    /** Whether {@code e} says the connection was lost (SQLState class 08: a failure, a timeout waiting for an answer, a refusal). */
    public static boolean connectionLost(Throwable e) {
        return e instanceof java.sql.SQLException s && s.getSQLState() != null && s.getSQLState().startsWith("08");
    }

    /** Names of the SQLStates an operator is most likely to meet here (PostgreSQL appendix A). */
    private static final java.util.Map<String, String> STATE_NAMES = java.util.Map.ofEntries(
            java.util.Map.entry("23505", "unique_violation"), java.util.Map.entry("23514", "check_violation"),
            java.util.Map.entry("23502", "not_null_violation"), java.util.Map.entry("42501", "insufficient_privilege"),
            java.util.Map.entry("28P01", "invalid_password"), java.util.Map.entry("28000", "invalid_authorization_specification"),
            java.util.Map.entry("08001", "connection refused"), java.util.Map.entry("08006", "connection failure"),
            java.util.Map.entry("08003", "connection_does_not_exist"),
            java.util.Map.entry("57P01", "admin_shutdown"), java.util.Map.entry("57P03", "cannot_connect_now"),
            java.util.Map.entry("53300", "too_many_connections"), java.util.Map.entry("3D000", "invalid_catalog_name"),
            java.util.Map.entry("40001", "serialization_failure"), java.util.Map.entry("55P03", "lock_not_available (lock_timeout)"),
            java.util.Map.entry("25P03", "idle_in_transaction_session_timeout"),
            java.util.Map.entry("57014", "query_canceled (statement_timeout)"));

    /** "SQLState X", with the state's name when it is a common one. */
    public static String describeState(String sqlState) {
        return "SQLState " + sqlState + Optional.ofNullable(STATE_NAMES.get(sqlState)).map(n -> " " + n).orElse("");
    }

    /**
     * Why a database call failed, without any value from the database: its SQLState (named when it
     * is a common one), else the exception's kind.
     */
    public static String why(Throwable e) {
        if (e instanceof java.sql.SQLException s && s.getSQLState() != null) {
            return describeState(s.getSQLState());
        }
        return e.getClass().getSimpleName();
    }

    /**
     * Rolls back after {@code cause}. A lost connection fails its rollback too; that failure is
     * added to the cause, which says why, instead of taking its place.
     */
    public static void rollbackAfter(java.sql.Connection c, Throwable cause) {
        try {
            c.rollback();
        } catch (java.sql.SQLException | RuntimeException broken) {
            cause.addSuppressed(broken);
        }
    }

    /** A pool for a command: its connections wait for an answer up to {@link #COMMAND_SOCKET_TIMEOUT}. */
    public static HikariDataSource pool(Settings.Database db, String poolName, MeterRegistry meters) {
        return pool(db, poolName, meters, COMMAND_SOCKET_TIMEOUT);
    }

    /**
     * A pool whose connections give up on an answer after {@code socketTimeout}, unless
     * DATABASE_URL sets {@code socketTimeout} itself (the URL's parameters win over these properties).
     */
    public static HikariDataSource pool(Settings.Database db, String poolName, MeterRegistry meters, Duration socketTimeout) {
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
        c.addDataSourceProperty("socketTimeout", Long.toString(socketTimeout.toSeconds()));
        // Every name cio-erasure's SQL uses lives in public (the migrations put it there). PostgreSQL's
        // default search path reads a schema named like the login role ("$user") first, and anyone
        // with CREATE on the database can make one: its look-alike audit_event would take the
        // worker's rows outside the chain, or show an auditor a chain cut short as INTACT. A session
        // setting, not the URL's options parameter, so that a DATABASE_URL with options cannot drop it;
        // pg_temp last, as a temporary table would otherwise come first.
        // And commits are durable before they return: offsets are committed to Kafka once the audit
        // rows' transaction has, so synchronous_commit=off (set by a DBA for the database or the
        // role, for speed) could lose the rows of erasures already done, with a PostgreSQL crash.
        // Only "off" is raised, to "local" (flushed to this server's disk); a stronger setting
        // (on, remote_write, remote_apply: also a synchronous standby) is kept.
        // (A plain SELECT of built-in functions: a DO block would need the plpgsql language, which a
        // hardened database may not grant.)
        // Read committed, whatever default_transaction_isolation a DBA set for the database or the
        // role: every append locks the chain head (and the group's pacing its budget row) that a
        // concurrent one has just updated, which under repeatable read or serializable fails with
        // 40001, again and again while several workers write. Readers that need one snapshot
        // (audit verify, open requests) ask for repeatable read themselves.
        c.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        // And the server notices a client gone without a word (a NAT or firewall that dropped the
        // connection's state, a failover of the network in between) within about two minutes:
        // TCP keepalives every 10 s after 60 s of silence, six unanswered ones end the session.
        // Until then its transaction stays open, and an append's lock on the chain head, or the
        // rate budget's, holds every worker of the group; PostgreSQL's default leaves it to the
        // system's, two hours on Linux. A shorter setting of the DBA's stays.
        c.setConnectionInitSql("SET search_path = public, pg_temp; SELECT CASE WHEN pg_catalog.current_setting('synchronous_commit') = 'off'"
                + " THEN pg_catalog.set_config('synchronous_commit', 'local', false) END;"
                + " SELECT pg_catalog.set_config(k.name, k.most::text, false) FROM (VALUES ('tcp_keepalives_idle', 60),"
                + " ('tcp_keepalives_interval', 10), ('tcp_keepalives_count', 6)) AS k(name, most)"
                + " WHERE pg_catalog.current_setting(k.name)::int NOT BETWEEN 1 AND k.most");
        if (meters != null) {
            c.setMetricsTrackerFactory(new MicrometerMetricsTrackerFactory(meters));
        }
        HikariDataSource pool = new HikariDataSource(c);
        if (db.password().fromFile()) {
            followRotations(pool, db);
        }
        return pool;
    }

    /**
     * A rotated DATABASE_PASSWORD_FILE reaches the connections the pool opens from then on (the
     * open ones stay: PostgreSQL does not end a session when its role's password changes). It was
     * read once, so a pool recycling its connections after a rotation was refused (28P01) until a restart.
     */
    private static void followRotations(HikariDataSource pool, Settings.Database db) {
        java.util.concurrent.atomic.AtomicReference<ScheduledFuture<?>> task = new java.util.concurrent.atomic.AtomicReference<>();
        task.set(dev.cioerasure.threads.Repeating.every(PASSWORD_CHECKS, "the check of DATABASE_PASSWORD_FILE", () -> {
            if (pool.isClosed()) {
                task.get().cancel(false);
            } else if (db.password().refreshIfChanged()) {
                pool.getHikariConfigMXBean().setPassword(db.password().reveal());
                log.info("DATABASE_PASSWORD_FILE changed: the {} pool opens its new connections with the new password", pool.getPoolName());
            }
        }, PASSWORD_CHECK_EVERY.toMillis(), PASSWORD_CHECK_EVERY.toMillis(), TimeUnit.MILLISECONDS));
    }
}
