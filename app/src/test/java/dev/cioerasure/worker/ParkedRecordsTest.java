package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ParkedRecordsTest {
    private static final TopicPartition TP = new TopicPartition("t.verify", 0);

    /**
     * A timer whose task may run before {@code schedule} returns, as a task due at once does when
     * the scheduling thread loses the CPU just after handing it over.
     */
    private static final class EagerTimer extends ScheduledThreadPoolExecutor {
        EagerTimer() {
            super(1);
        }

        @Override
        public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            if (delay <= 0) {
                command.run();
            }
            return super.schedule(delay <= 0 ? () -> { } : command, delay, unit);
        }
    }

    private final EagerTimer timer = new EagerTimer();

    @AfterEach
    void stop() {
        timer.shutdownNow();
    }

    @Test
    void aRecordDueBeforeParkingReturnsStillRunsAndIsNotLeftParked() {
        ParkedRecords parked = new ParkedRecords(timer);
        List<Long> ran = new CopyOnWriteArrayList<>();

        parked.park(new RecordKey(TP, 7), Duration.ZERO, () -> ran.add(7L));

        assertThat(ran).containsExactly(7L);
        assertThat(parked.size()).as("nothing left parked").isZero();
    }

    @Test
    void aRecordRunsOnceWhenDueAndNotAtAllWhenHandedBackBefore() throws Exception {
        ParkedRecords parked = new ParkedRecords(timer);
        List<Long> ran = new CopyOnWriteArrayList<>();
        TopicPartition other = new TopicPartition("t.verify", 1);

        parked.park(new RecordKey(TP, 1), Duration.ofMillis(50), () -> ran.add(1L));
        parked.park(new RecordKey(other, 2), Duration.ofMillis(50), () -> ran.add(2L));
        assertThat(parked.count(List.of(TP))).isEqualTo(1);
        assertThat(parked.handBack(List.of(other))).isEqualTo(1);

        timer.shutdown();
        assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        assertThat(ran).containsExactly(1L);
        assertThat(parked.size()).isZero();
    }

    @Test
    void aRecordParkedAgainAfterBeingHandedBackRunsOnlyItsNewWork() throws Exception {
        ParkedRecords parked = new ParkedRecords(timer);
        List<String> ran = new CopyOnWriteArrayList<>();
        RecordKey key = new RecordKey(TP, 3);

        parked.park(key, Duration.ofMillis(30), () -> ran.add("first"));
        parked.handBack(null);
        parked.park(key, Duration.ofMillis(60), () -> ran.add("again"));

        timer.shutdown();
        assertThat(timer.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        assertThat(ran).containsExactly("again");
    }
}
