package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.TestInfra;
import java.sql.Connection;
import java.sql.ResultSet;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** DATABASE_URL's parameters reach the PostgreSQL driver as written (TLS settings among them). */
class DatabaseUrlIT {
    @Test
    void urlParametersReachTheDriver() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        Settings.Database named = new Settings.Database(db.url() + (db.url().contains("?") ? "&" : "?") + "ApplicationName=cio-erasure-url-it",
                db.user(), db.password(), 2);
        try (var pool = Databases.pool(named, "url-it", null);
             Connection c = pool.getConnection();
             ResultSet rs = c.createStatement().executeQuery("SHOW application_name")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("cio-erasure-url-it");
        }
    }

    /**
     * Offsets are committed once the audit rows' transaction has: with synchronous_commit=off (a
     * DBA's setting for speed) a PostgreSQL crash could lose rows of erasures already done. The
     * pool's connections raise it to local; a stronger setting stays.
     */
    @Test
    void commitsAreDurableWhateverTheDatabaseSaysAndAStrongerSettingStays() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        assertThat(inAPoolSession(db, "off", "synchronous_commit")).isEqualTo("local");
        assertThat(inAPoolSession(db, "off", "search_path")).isEqualTo("public, pg_temp");
        assertThat(inAPoolSession(db, "remote_apply", "synchronous_commit")).isEqualTo("remote_apply");
    }

    /**
     * A client gone without a word (its NAT or firewall state dropped) kept its session, and an
     * append's lock on the chain head that holds every worker, until the system's keepalive gave
     * up: two hours on Linux. Sessions ask for keepalives after 60 s, every 10 s, six at most; a
     * DBA's shorter setting stays.
     */
    @Test
    void sessionsAskTheServerToNoticeAVanishedClientWithinMinutesAndAShorterSettingStays() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        assertThat(inAPoolSession(db, "off", "tcp_keepalives_idle")).isEqualTo("60");
        assertThat(inAPoolSession(db, "off", "tcp_keepalives_interval")).isEqualTo("10");
        assertThat(inAPoolSession(db, "off", "tcp_keepalives_count")).isEqualTo("6");
        setForTheDatabase(db, "tcp_keepalives_idle = 20");
        assertThat(inAPoolSession(db, "off", "tcp_keepalives_idle")).isEqualTo("20");
    }

    /** {@code ALTER DATABASE … SET setting}, as a DBA would. */
    private static void setForTheDatabase(Settings.Database db, String setting) throws Exception {
        String name = db.url().substring(db.url().lastIndexOf('/') + 1).replaceAll("\\?.*", "");
        try (Connection admin = TestInfra.dataSource(db).getConnection()) {
            admin.createStatement().execute("ALTER DATABASE " + name + " SET " + setting);
        }
    }

    /** The setting as a session of the pool sees it, with the database's synchronous_commit set to {@code databaseSays}. */
    private static String inAPoolSession(Settings.Database db, String databaseSays, String setting) throws Exception {
        setForTheDatabase(db, "synchronous_commit = " + databaseSays);
        try (var pool = Databases.pool(db, "durable-it", null); Connection c = pool.getConnection();
             ResultSet rs = c.createStatement().executeQuery("SHOW " + setting)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /**
     * The worker's connections give up on an answer after 120 s (FaultsIT shows a hung connection
     * then costs that, not the run); DATABASE_URL's socketTimeout wins; the commands' wait an hour
     * (a report or a migration may take long, but not for ever).
     */
    @Test
    void theWorkersConnectionsWaitAtMostTheSocketTimeoutAndTheUrlsOwnWins() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        assertThat(networkTimeoutMillis(db, Databases.WORKER_SOCKET_TIMEOUT)).isEqualTo(120_000);
        Settings.Database own = new Settings.Database(db.url() + (db.url().contains("?") ? "&" : "?") + "socketTimeout=7",
                db.user(), db.password(), 2);
        assertThat(networkTimeoutMillis(own, Databases.WORKER_SOCKET_TIMEOUT)).isEqualTo(7_000);
        try (var commands = Databases.pool(db, "command-it", null); Connection c = commands.getConnection()) {
            assertThat(c.getNetworkTimeout()).as("the commands' connections: an hour").isEqualTo(3_600_000);
        }
    }

    private static int networkTimeoutMillis(Settings.Database db, java.time.Duration socketTimeout) throws Exception {
        try (var pool = Databases.pool(db, "timeout-it", null, socketTimeout); Connection c = pool.getConnection()) {
            return c.getNetworkTimeout();
        }
    }

    @Test
    void sslmodeRequireAgainstAServerWithoutTlsIsRefusedWithTheDriversReason() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        String url = db.url() + (db.url().contains("?") ? "&" : "?") + "sslmode=require&sslpassword=never-shown-0123";
        Cli.Run run = Cli.run(Map.of("DATABASE_URL", url, "DATABASE_USER", db.user(),
                "DATABASE_PASSWORD", db.password().reveal()), "audit", "verify");
        assertThat(run.exit()).isEqualTo(78);
        assertThat(run.err()).contains("DATABASE_URL: TLS to PostgreSQL", "does not support SSL").doesNotContain("never-shown-0123");
    }
}
