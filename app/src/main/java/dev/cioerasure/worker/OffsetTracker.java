package dev.cioerasure.worker;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Which offsets of each partition may be committed. Records finish out of order (many run at
 * once); the committable offset of a partition is the lowest offset still pending, or one past
 * the highest taken when none is pending — so an offset is committed only when it and every
 * record before it in the partition is done (its audit row durable).
 */
final class OffsetTracker {

    /** Progress of one partition during one assignment. */
    static final class Partition {
        private final ConcurrentSkipListSet<Long> pending = new ConcurrentSkipListSet<>();
        private volatile long next = -1;

        void taken(long offset) {
            pending.add(offset);
            next = Math.max(next, offset + 1);
        }

        void done(long offset) {
            pending.remove(offset);
        }

        int pendingCount() {
            return pending.size();
        }

        /** The offset to commit, or -1 when nothing was taken yet. */
        long committable() {
            Long first = pending.isEmpty() ? null : pending.first();
            return first != null ? first : next;
        }
    }

    private final Map<TopicPartition, Partition> partitions = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> committed = new ConcurrentHashMap<>();

    /** Registers a record as taken; the returned handle marks it done (valid across reassignment). */
    Partition taken(TopicPartition tp, long offset) {
        Partition p = partitions.computeIfAbsent(tp, k -> new Partition());
        p.taken(offset);
        return p;
    }

    /** One past the highest offset taken from the partition in this assignment, or -1 when none was. */
    long next(TopicPartition tp) {
        Partition p = partitions.get(tp);
        return p == null ? -1 : p.next;
    }

    /** Offsets that moved since the last call to {@link #markCommitted}. */
    Map<TopicPartition, OffsetAndMetadata> toCommit(Collection<TopicPartition> only) {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        for (Map.Entry<TopicPartition, Partition> e : partitions.entrySet()) {
            if (only != null && !only.contains(e.getKey())) {
                continue;
            }
            long offset = e.getValue().committable();
            if (offset >= 0 && !Long.valueOf(offset).equals(committed.get(e.getKey()))) {
                out.put(e.getKey(), new OffsetAndMetadata(offset));
            }
        }
        return out;
    }

    void markCommitted(Map<TopicPartition, OffsetAndMetadata> offsets) {
        offsets.forEach((tp, om) -> committed.merge(tp, om.offset(), Math::max));
    }

    int pending(Collection<TopicPartition> only) {
        int n = 0;
        for (Map.Entry<TopicPartition, Partition> e : partitions.entrySet()) {
            if (only == null || only.contains(e.getKey())) {
                n += e.getValue().pendingCount();
            }
        }
        return n;
    }

    /** Forgets partitions no longer assigned; late completions for them touch only the old handle. */
    void remove(Collection<TopicPartition> tps) {
        tps.forEach(tp -> {
            partitions.remove(tp);
            committed.remove(tp);
        });
    }
}
