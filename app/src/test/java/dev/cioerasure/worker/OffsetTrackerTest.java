package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {
    private final TopicPartition tp = new TopicPartition("t", 0);
    private final OffsetTracker tracker = new OffsetTracker();

    @Test
    void commitsOnlyUpToTheFirstUnfinishedRecord() {
        var p = tracker.taken(tp, 10);
        tracker.taken(tp, 11);
        tracker.taken(tp, 12);
        p.done(11);
        p.done(12);
        assertThat(tracker.toCommit(null).get(tp).offset()).isEqualTo(10);
        p.done(10);
        assertThat(tracker.toCommit(null).get(tp).offset()).isEqualTo(13);
    }

    @Test
    void reportsOnlyOffsetsThatMoved() {
        var p = tracker.taken(tp, 0);
        p.done(0);
        var due = tracker.toCommit(null);
        tracker.markCommitted(due);
        assertThat(tracker.toCommit(null)).isEmpty();
        tracker.taken(tp, 1);
        assertThat(tracker.toCommit(null)).isEmpty();
    }

    @Test
    void aRevokedPartitionIsForgottenAndLateCompletionsDoNotLeakIntoTheNextAssignment() {
        var old = tracker.taken(tp, 5);
        tracker.remove(List.of(tp));
        var fresh = tracker.taken(tp, 7);
        old.done(5);
        assertThat(tracker.toCommit(null).get(tp).offset()).isEqualTo(7);
        assertThat(tracker.pending(List.of(tp))).isEqualTo(1);
        fresh.done(7);
        assertThat(tracker.pending(null)).isZero();
    }
}
