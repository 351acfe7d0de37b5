package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.testing.LogCapture;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** How a worker joining by the consumer group protocol waits for its instance id: no broker. */
class InstanceIdReleaseTest {
    private final List<String> waiting = new CopyOnWriteArrayList<>();

    private InstanceIdRelease release(InstanceIdRelease.Group group) {
        return new InstanceIdRelease(group, "erasers", "worker-a", Clock.systemUTC(), Duration.ofMillis(300), Duration.ofMillis(5));
    }

    @Test
    void anIdTheGroupDoesNotHoldJoinsAtOnceAndSaysNothing() throws Exception {
        try (LogCapture logs = LogCapture.capture()) {
            assertThat(release(id -> false).await(() -> true, waiting::add)).isTrue();
            assertThat(logs.lines()).isEmpty();
        }
        assertThat(waiting).containsExactly((String) null);
    }

    /** A killed run's member, kept until its session times out: the worker waits for it, then joins. */
    @Test
    void anIdHeldForAWhileIsWaitedForThenJoinedWithTheWaitSaidAndShownAsNotReady() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        try (LogCapture logs = LogCapture.capture()) {
            assertThat(release(id -> id.equals("worker-a") && asked.incrementAndGet() <= 3).await(() -> true, waiting::add)).isTrue();
            assertThat(logs.lines()).filteredOn(l -> l.contains("holds WORKER_INSTANCE_ID 'worker-a' for another member")).hasSize(1)
                    .allMatch(l -> l.contains("; waiting up to 0 s for it to be released before joining"));
            assertThat(logs.lines()).anyMatch(l -> l.contains("consumer group erasers released WORKER_INSTANCE_ID 'worker-a' after"));
        }
        assertThat(asked).hasValue(4);
        assertThat(waiting).hasSize(4).last().isNull();
        assertThat(waiting.get(0)).startsWith("waiting for consumer group erasers to release WORKER_INSTANCE_ID 'worker-a', held for a"
                + " member that has not left (0 s so far)");
    }

    /** Still held past the longest session: another running instance has the id. */
    @Test
    void anIdStillHeldAfterTheLongestSessionIsAnotherInstancesAndEndsTheWait() {
        assertThatThrownBy(() -> release(id -> true).await(() -> true, waiting::add)).isInstanceOf(InstanceIdRelease.Held.class)
                .hasMessageStartingWith(InstanceIdRelease.heldMessage("erasers", "worker-a") + "; it was still held after 0 s")
                .hasMessageEndingWith(": give every instance its own WORKER_INSTANCE_ID");
        assertThat(waiting).last().isNull();
    }

    @Test
    void aStopWhileWaitingEndsTheWaitWithoutJoining() throws Exception {
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger asked = new AtomicInteger();
        assertThat(release(id -> asked.incrementAndGet() < 3 || running.getAndSet(false)).await(running::get, waiting::add)).isFalse();
        assertThat(waiting).last().isNull();
    }
}
