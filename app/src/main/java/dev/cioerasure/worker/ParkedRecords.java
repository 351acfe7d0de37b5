package dev.cioerasure.worker;

import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;

/**
 * Retry-topic records held in memory until their not-before time. A parked record is taken but
 * not in flight: its offset stays uncommitted, so a crash re-reads and re-parks it, and nothing
 * else waits for it. On revocation or shutdown parked records are handed back (dropped here,
 * still uncommitted) instead of being waited for.
 */
final class ParkedRecords {
    private final ScheduledExecutorService timer;
    private final Map<RecordKey, ScheduledFuture<?>> parked = new ConcurrentHashMap<>();

    ParkedRecords(ScheduledExecutorService timer) {
        this.timer = timer;
    }

    /** Runs {@code whenDue} after {@code wait}, unless the record was handed back before. */
    void park(RecordKey key, Duration wait, Runnable whenDue) {
        parked.put(key, timer.schedule(() -> {
            if (parked.remove(key) != null) {
                whenDue.run();
            }
        }, wait.toMillis(), TimeUnit.MILLISECONDS));
    }

    /** Hands back the parked records of these partitions (all when null); returns how many. */
    int handBack(Collection<TopicPartition> only) {
        int n = 0;
        for (var it = parked.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (only == null || only.contains(e.getKey().partition())) {
                e.getValue().cancel(false);
                it.remove();
                n++;
            }
        }
        return n;
    }

    /** Parked records of these partitions (all when null). */
    int count(Collection<TopicPartition> only) {
        return (int) parked.keySet().stream().filter(k -> only == null || only.contains(k.partition())).count();
    }

    int size() {
        return parked.size();
    }
}
