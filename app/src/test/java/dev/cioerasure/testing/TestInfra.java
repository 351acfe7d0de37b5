package dev.cioerasure.testing;

import dev.cioerasure.audit.Migrations;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testkit.embedded.EmbeddedDatabase;
import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * One real Kafka broker and one real PostgreSQL server for the whole test run, started on first
 * use and stopped when the JVM exits. Each test class gets its own database and topic names,
 * so classes never see each other's data.
 */
public final class TestInfra {
    private static EmbeddedKafka kafka;
    private static EmbeddedDatabase postgres;
    private static final AtomicInteger DATABASES = new AtomicInteger();

    private TestInfra() { }

    public static synchronized EmbeddedKafka kafka() {
        if (kafka == null) {
            try {
                kafka = EmbeddedKafka.start();
            } catch (Exception e) {
                throw new IllegalStateException("embedded Kafka failed to start", e);
            }
            // Closed by SharedInfraShutdown when the test session ends, before the JVM exits:
            // Kafka's test utilities delete the broker's directories in a shutdown hook, and a
            // broker still running then halts the JVM with exit code 1.
        }
        return kafka;
    }

    public static synchronized EmbeddedDatabase postgres() {
        if (postgres == null) {
            try {
                postgres = EmbeddedDatabase.start();
                // as a real server: a wrong password is refused (ConnectionErrorsIT relies on it)
                postgres.requirePasswords("postgres");
            } catch (Exception e) {
                throw new IllegalStateException("embedded PostgreSQL failed to start", e);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(() -> closeQuietly(postgres)));
            // The migration creates the server-wide roles cio_erasure_writer/auditor when they are
            // missing (V2). Migrated here once, before test classes run side by side: two first
            // migrations at once would both try to create them.
            freshDatabase();
        }
        return postgres;
    }

    /** A port nothing listens on now: free for a server to bind, and closed to a client. */
    public static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A fresh, migrated database on the shared server. */
    public static Settings.Database freshDatabase() {
        String name = "test_" + DATABASES.incrementAndGet() + "_" + ProcessHandle.current().pid();
        try (Connection c = postgres().superuserDataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        Settings.Database db = new Settings.Database("jdbc:postgresql://localhost:" + postgres().port() + "/" + name,
                "postgres", Secret.of("DATABASE_PASSWORD", "postgres"), 4);
        Migrations.migrate(dataSource(db));
        return db;
    }

    private static boolean writerCreated;

    /**
     * The same database, logged in as a member of the migration's least-privilege writer role —
     * how the worker runs in the integration tests.
     */
    public static synchronized Settings.Database asWriter(Settings.Database owner) {
        if (!writerCreated) {
            try (Connection c = postgres().superuserDataSource().getConnection(); Statement st = c.createStatement()) {
                st.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'it_worker') THEN"
                        + " CREATE ROLE it_worker LOGIN PASSWORD 'it-worker-pw' IN ROLE cio_erasure_writer; END IF; END $$");
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
            writerCreated = true;
        }
        return new Settings.Database(owner.url(), "it_worker", Secret.of("DATABASE_PASSWORD", "it-worker-pw"), owner.poolSize());
    }

    public static DataSource dataSource(Settings.Database db) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(db.url());
        ds.setUser(db.user());
        ds.setPassword(db.password().reveal());
        return ds;
    }

    /** Stops the shared broker and database (at the end of the test session). */
    public static synchronized void closeAll() {
        if (kafka != null) {
            closeQuietly(kafka);
            kafka = null;
        }
        if (postgres != null) {
            closeQuietly(postgres);
            postgres = null;
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // the JVM is exiting
        }
    }
}
