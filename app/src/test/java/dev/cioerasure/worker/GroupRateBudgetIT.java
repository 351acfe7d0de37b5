package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.audit.Databases;
import dev.cioerasure.config.Settings;
import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.TrackPolicy;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.StatusTrack;
import dev.cioerasure.testing.TcpProxy;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** The leases in PostgreSQL: shares by backlog, and a restart under the same id that keeps its predecessor's slots. */
class GroupRateBudgetIT {
    private static final int LIMIT = 1000;
    private static final Duration GRACE = Duration.ofSeconds(2);
    private final DataSource db = TestInfra.dataSource(TestInfra.freshDatabase());

    @Test
    void skewedBacklogsGetProportionalShares() {
        GroupRateBudget hot = budget("hot", 9_000);
        GroupRateBudget cold = budget("cold", 3_000);
        for (int i = 0; i < 4; i++) {
            hot.renew();
            cold.renew();
        }
        assertThat(hot.grant() + cold.grant()).isLessThanOrEqualTo(LIMIT);
        assertThat(hot.grant()).isGreaterThan(2 * cold.grant());
        assertThat(cold.grant()).isPositive();
    }

    @Test
    void aRestartUnderTheSameIdKeepsItsPredecessorsSlotsUntilTheyCannotCount() throws Exception {
        GroupRateBudget killed = budget("a", 1_000_000);
        killed.renew();
        assertThat(killed.grant()).isEqualTo(LIMIT);
        // killed -9: no close(). It restarts at once under the same id; another instance wants work too.
        GroupRateBudget restarted = budget("a", 1_000_000);
        GroupRateBudget other = budget("b", 1_000_000);
        long restartedAt = System.nanoTime();
        for (int i = 0; i < 5; i++) {
            restarted.renew();
            other.renew();
            assertThat(restarted.grant() + other.grant()).as("renewal %d: the predecessor's %d slots still count", i, LIMIT).isZero();
            Thread.sleep(GroupRateBudget.RENEW_MILLIS);
        }
        // lease valid 1 s, then one second of window and the grace: then the slots are free again
        Thread.sleep(Math.max(0, GroupRateBudget.TTL_MILLIS + 1_000 + GRACE.toMillis() + 300 - (System.nanoTime() - restartedAt) / 1_000_000));
        for (int i = 0; i < 3; i++) {
            restarted.renew();
            other.renew();
        }
        assertThat(restarted.grant()).isPositive();
        assertThat(other.grant()).isPositive();
        assertThat(restarted.grant() + other.grant()).isLessThanOrEqualTo(LIMIT);
    }

    /**
     * An instance cut off from the database mid-renewal (the proxy goes silent once the lock is
     * asked for, and keeps answering the database's keepalives) held the group's advisory lock:
     * every other instance's renewal waited on it, for good, their leases ran out and the group
     * started no call. The silent session now ends two seconds after its last statement, and the
     * others go on once the cut-off instance's slots no longer count.
     */
    @Test
    void anInstanceCutOffMidRenewalHoldsTheGroupsLockOnlyBriefly() throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        DataSource direct = TestInfra.dataSource(owner);
        java.util.concurrent.ExecutorService renewals = java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "budget-it-renewal");
            t.setDaemon(true);
            return t;
        });
        try (LogCapture logs = LogCapture.capture();
             TcpProxy proxy = new TcpProxy(TestInfra.postgres().port());
             var cutOffPool = Databases.pool(new Settings.Database(proxy.route(owner.url()), owner.user(), owner.password(), 2),
                     "budget-it", null, Duration.ofSeconds(60))) {
            GroupRateBudget cutOff = budget(cutOffPool, "cut-off", 1_000);
            GroupRateBudget other = budget(direct, "other", 1_000);
            cutOff.renew();
            other.renew();
            assertThat(cutOff.healthy() && other.healthy()).isTrue();

            proxy.freezeOnceSent("pg_advisory_xact_lock");
            renewals.submit(cutOff::renew); // sends the lock's statement, then hears nothing more
            await().atMost(Duration.ofSeconds(10)).until(proxy::frozen);
            Thread.sleep(200);
            long start = System.nanoTime();
            java.util.concurrent.Future<Double> renewed = renewals.submit(() -> {
                do {
                    Thread.sleep(GroupRateBudget.RENEW_MILLIS);
                    other.renew(); // waited here on the lock for good
                } while (!other.healthy() || other.grant() == 0);
                return (System.nanoTime() - start) / 1e9;
            });
            double seconds = renewed.get(30, java.util.concurrent.TimeUnit.SECONDS);
            Cli.report("[budget] another instance renewed with slots to use %.1f s after one was cut off holding the lock%n", seconds);
            // the cut-off instance's slots still count for a lease, a second and the grace (4 s) after its last renewal
            assertThat(seconds).isLessThan(10);
            assertThat(logs.lines()).as("the others say why they could not renew meanwhile").anyMatch(l -> l.contains(
                    "cannot renew this instance's share of the track rate (SQLState 55P03 lock_not_available (lock_timeout))"));
        } finally {
            renewals.shutdownNow();
        }
    }

    private GroupRateBudget budget(String instance, long backlog) {
        return budget(db, instance, backlog);
    }

    private static GroupRateBudget budget(DataSource db, String instance, long backlog) {
        ErasureExecutor executor = new ErasureExecutor(new StatusTrack(), new TrackPolicy(LIMIT, 1, Duration.ofMillis(10), Duration.ofMillis(10),
                Duration.ofSeconds(1), Duration.ofSeconds(1), 0, GRACE), new SimpleMeterRegistry());
        return new GroupRateBudget(db, instance, LIMIT, GRACE, executor, () -> backlog);
    }
}
