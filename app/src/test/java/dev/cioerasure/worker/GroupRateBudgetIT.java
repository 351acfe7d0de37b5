package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.TrackPolicy;
import dev.cioerasure.testing.StatusTrack;
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

    private GroupRateBudget budget(String instance, long backlog) {
        ErasureExecutor executor = new ErasureExecutor(new StatusTrack(), new TrackPolicy(LIMIT, 1, Duration.ofMillis(10), Duration.ofMillis(10),
                Duration.ofSeconds(1), Duration.ofSeconds(1), 0, GRACE), new SimpleMeterRegistry());
        return new GroupRateBudget(db, instance, LIMIT, GRACE, executor, () -> backlog);
    }
}
