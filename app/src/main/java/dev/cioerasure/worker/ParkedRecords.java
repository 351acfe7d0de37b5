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
 * Records held in memory until they are due: retry-topic records until their not-before time,
 * records that failed unexpectedly until they are tried again. A parked record is taken but
 * not in flight: its offset stays uncommitted, so a crash re-reads and re-parks it, and nothing
 * else waits for it. On revocation or shutdown parked records are handed back (dropped here,
 * still uncommitted) instead of being waited for.
 */
final class ParkedRecords {
    /** One parked record; its timer is set just after it is registered. */
    private static final class Parked {
        volatile ScheduledFuture<?> timer;
    }

    private final ScheduledExecutorService timer;
    private final Map<RecordKey, Parked> parked = new ConcurrentHashMap<>();

    ParkedRecords(ScheduledExecutorService timer) {
        this.timer = timer;
    }

    /**
     * Runs {@code whenDue} after {@code wait}, unless the record was handed back before.
     *
     * <p>The record is registered before its timer is started: a timer due at once may fire
     * before {@code schedule} returns (a short wait on a busy machine), and must find it. Had it
     * been registered after, the timer would have found nothing to run and the record would have
     * stayed parked until its partition was revoked, holding back that partition's commits
     * (VerificationIT caught this on a loaded machine).
     */
    void park(RecordKey key, Duration wait, Runnable whenDue) {
        Parked p = new Parked();
        parked.put(key, p);
        p.timer = timer.schedule(() -> {
            if (parked.remove(key, p)) {
                whenDue.run();
            }
        }, wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Hands back the parked records of these partitions (all when null); returns how many. */
    int handBack(Collection<TopicPartition> only) {
        int n = 0;
        for (var it = parked.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (only == null || only.contains(e.getKey().partition())) {
                it.remove(); // a timer that fires now finds nothing to run
                ScheduledFuture<?> t = e.getValue().timer;
                if (t != null) {
                    t.cancel(false);
                }
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
