package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.TcpProxy;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A failover leaves the pool's connections with the old primary's address, silent (the proxy's
 * {@code hangOpenConnections}). Each costs a wait before it is given up; the worker must pay it
 * once, not once more for every step of cleaning up, nor declare the database unreachable while a
 * new connection reaches it.
 */
class DatabaseFailoverIT {
    /** Readiness: each idle connection the pool hands out costs a whole validation wait (5 s), all of a borrow's budget. */
    @Test
    void theReadinessCheckAnswersOnANewConnectionWhenThePoolsIdleOnesHang() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        try (TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            Settings.Database proxied = through(proxy, db, 5, 4);
            try (var pool = Databases.pool(proxied, "failover-it", null, Databases.WORKER_SOCKET_TIMEOUT)) {
                // four idle connections, each last used long enough ago to be validated when handed out
                List<Connection> held = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    held.add(pool.getConnection());
                }
                for (Connection c : held) {
                    c.close();
                }
                Thread.sleep(600);
                AuditLog log = new AuditLog(pool);
                assertThat(log.whyUnreachable()).as("before the failover").isEmpty();
                Thread.sleep(600);

                proxy.hangOpenConnections();

                long start = System.nanoTime();
                java.util.Optional<String> unreachable = log.whyUnreachable();
                double seconds = (System.nanoTime() - start) / 1e9;
                Cli.report("[failover] readiness check with hung idle connections: reachable=%s in %.1f s%n", unreachable.isEmpty(), seconds);
                assertThat(unreachable).as("a new connection reaches the database (checked in %.1f s)", seconds).isEmpty();
                assertThat(log.whyUnreachable()).as("and the next check, on the pool's new connections").isEmpty();
            }
        }
    }

    /**
     * The audit writer's COPY goes around the pool's wrapper, so the pool does not learn that the
     * connection is lost; rolling it back then waited a second socket timeout for an answer that
     * never comes (120 s more in production). A lost connection is closed at once instead.
     */
    @Test
    void anAppendOnAHungConnectionIsWrittenAgainAfterOneSocketTimeoutNotTwo() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        int socketTimeout = 4;
        try (TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            Settings.Database proxied = through(proxy, db, socketTimeout, 1);
            try (var pool = Databases.pool(proxied, "failover-writer-it", null, Databases.WORKER_SOCKET_TIMEOUT);
                 AuditWriter writer = new AuditWriter(pool, "w1", new SimpleMeterRegistry())) {
                writer.append(List.of(row("before", 1))).get(30, TimeUnit.SECONDS);
                // at once: the pool hands its one connection out again without validating it
                proxy.hangOpenConnections();
                long start = System.nanoTime();
                writer.append(List.of(row("after", 2))).get(60, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - start) / 1e9;
                Cli.report("[failover] append on a hung connection written %.1f s after the hang (socket timeout %d s)%n", seconds, socketTimeout);
                assertThat(seconds).as("written again after one socket timeout (%d s), not two", socketTimeout)
                        .isGreaterThanOrEqualTo(socketTimeout - 0.5).isLessThan(socketTimeout * 1.75);
            }
        }
        assertThat(rows(db)).as("both rows, once each").isEqualTo(2);
    }

    /**
     * The same, with the connection lost while the COPY waits for its answer (all rows sent, the
     * chain's head locked by another session): giving the COPY up politely waited a socket timeout
     * for the server to acknowledge, and the rollback another.
     */
    @Test
    void anAppendWhoseConnectionHangsMidCopyIsWrittenAgainAfterOneSocketTimeout() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        int socketTimeout = 4;
        try (TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            Settings.Database proxied = through(proxy, db, socketTimeout, 2);
            try (var pool = Databases.pool(proxied, "failover-copy-it", null, Databases.WORKER_SOCKET_TIMEOUT);
                 AuditWriter writer = new AuditWriter(pool, "w1", new SimpleMeterRegistry())) {
                writer.append(List.of(row("before", 1))).get(30, TimeUnit.SECONDS);
                CompletableFuture<Void> after;
                long start;
                try (Connection dba = TestInfra.dataSource(db).getConnection()) {
                    dba.setAutoCommit(false);
                    dba.createStatement().execute("SELECT * FROM audit_chain_head FOR UPDATE");
                    after = writer.append(List.of(row("after", 2)));
                    Thread.sleep(1_000); // the COPY's rows are sent; its trigger waits for the head
                    proxy.hangOpenConnections();
                    start = System.nanoTime();
                    dba.commit();
                }
                after.get(60, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - start) / 1e9;
                Cli.report("[failover] append hung mid-COPY written %.1f s after the hang (socket timeout %d s)%n", seconds, socketTimeout);
                assertThat(seconds).as("written again within one socket timeout (%d s) of the hang, not three", socketTimeout)
                        .isLessThan(socketTimeout * 1.5);
            }
        }
        assertThat(rows(db)).as("both rows, once each").isEqualTo(2);
    }

    /**
     * A COPY that waits for a lock longer than the socket timeout (a migration, a DBA's LOCK TABLE)
     * is given up and written again. The given-up statement's session went on waiting on the
     * server, one more each timeout: a 30-minute migration against the 120 s default left 15 per
     * worker, each holding one of the server's connections. The writer now cancels it first.
     */
    @Test
    void anAppendGivenUpWhileWaitingForALockLeavesNoSessionWaitingBehind() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        Settings.Database timed = withSocketTimeout(db, db.url(), 2, 2);
        try (var pool = Databases.pool(timed, "lock-it", null, Databases.WORKER_SOCKET_TIMEOUT);
             AuditWriter writer = new AuditWriter(pool, "w1", new SimpleMeterRegistry())) {
            writer.append(List.of(row("before", 1))).get(30, TimeUnit.SECONDS);
            CompletableFuture<Void> after;
            long waiting;
            try (Connection dba = TestInfra.dataSource(db).getConnection()) {
                dba.setAutoCommit(false);
                dba.createStatement().execute("LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE");
                after = writer.append(List.of(row("after", 2)));
                Thread.sleep(7_000); // three socket timeouts and more
                // sessions waiting since before the socket timeout (and some time for a cancel to land):
                // the append's current attempt is younger, one given up is older
                try (var rs = dba.createStatement().executeQuery("SELECT count(*) FROM pg_stat_activity"
                        + " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                        + " AND query_start < clock_timestamp() - interval '3 seconds'")) {
                    rs.next();
                    waiting = rs.getLong(1);
                }
                dba.commit();
            }
            after.get(30, TimeUnit.SECONDS);
            Cli.report("[failover] sessions left waiting for a lock held 7 s, socket timeout 2 s: %d%n", waiting);
            assertThat(waiting).as("no attempt given up still waits for the lock").isZero();
        }
        assertThat(rows(db)).as("both rows, once each").isEqualTo(2);
    }

    /** The duplicate check's log line names the lost connection (SQLState 08006), not the failed rollback after it. */
    @Test
    void theDuplicateCheckSaysTheConnectionWasLost() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        try (TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            Settings.Database proxied = through(proxy, db, 2, 1);
            try (var pool = Databases.pool(proxied, "failover-lookup-it", null, Databases.WORKER_SOCKET_TIMEOUT);
                 OutcomeLookup lookup = new OutcomeLookup(pool);
                 LogCapture logs = LogCapture.capture()) {
                assertThat(lookup.finalOutcome("r-1")).isEmpty();
                proxy.hangOpenConnections();
                assertThat(lookup.finalOutcome("r-1")).as("answered on a new connection").isEmpty();
                assertThat(String.join("\n", logs.lines())).contains("duplicate check failed (SQLState 08006 connection failure)");
            }
        }
    }

    /** The database reached through the proxy, with this socket timeout and pool size. */
    private static Settings.Database through(TcpProxy proxy, Settings.Database db, int socketTimeout, int poolSize) {
        String url = proxy.route(db.url());
        return withSocketTimeout(db, url, socketTimeout, poolSize);
    }

    private static Settings.Database withSocketTimeout(Settings.Database db, String url, int socketTimeout, int poolSize) {
        return new Settings.Database(url + (url.contains("?") ? "&" : "?") + "socketTimeout=" + socketTimeout, db.user(), db.password(),
                poolSize);
    }

    private static long rows(Settings.Database db) throws Exception {
        try (Connection c = TestInfra.dataSource(db).getConnection();
             var rs = c.createStatement().executeQuery("SELECT count(*) FROM audit_event")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static AuditEvent row(String requestId, long offset) {
        Instant t = Instant.parse("2026-11-28T10:00:00Z");
        return new AuditEvent(requestId, "c".repeat(64), "id", Step.OUTCOME, Outcome.COMPLETED, null, null, null,
                "GDPR", t, t.plusSeconds(30 * 86400), "desk", new KafkaCoordinates("t", 0, offset), t);
    }
}
