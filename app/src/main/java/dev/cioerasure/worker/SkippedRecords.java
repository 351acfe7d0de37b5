package dev.cioerasure.worker;

import dev.cioerasure.audit.AuditLog;
import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.Executor;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Request records the group's committed offset passed without an {@code OUTCOME} row. A worker
 * commits an offset only once the outcome rows of every record before it are durable, so the
 * offset a worker is assigned is at most one past the partition's last outcome row. Beyond that,
 * something else moved it: {@code kafka-consumer-groups --reset-offsets} (to skip a backlog, say),
 * a console consumer run with the worker's group id, or an audit table restored from an older
 * backup. The records in between were never processed: no erasure, no audit row, nothing, and
 * the worker went on from the new offset without a word. Now each such gap is logged with its
 * offsets and what to run to process them, and counted ({@code erasure_requests_skipped_total},
 * alert {@code ErasureRequestsSkipped}). The worker does not go back by itself: an operator may
 * have skipped requests on purpose (a file submitted by mistake), and erasure cannot be undone.
 */
final class SkippedRecords {
    private static final Logger log = LoggerFactory.getLogger(SkippedRecords.class);
    private final String topic;
    private final String group;
    private final String bootstrapServers;
    private final AuditLog audit;
    private final Executor executor;
    private final Counter skipped;

    SkippedRecords(String topic, String group, String bootstrapServers, AuditLog audit, Executor executor, MeterRegistry meters) {
        this.topic = topic;
        this.group = group;
        this.bootstrapServers = bootstrapServers;
        this.audit = audit;
        this.executor = executor;
        // exported from the start at 0, so increase() sees the first gap
        this.skipped = Counter.builder(MetricNames.SKIPPED)
                .description("Offsets of the request topic that the group's committed offset passed without an outcome row (moved by"
                        + " something other than a worker; the log names them and how to process them); transaction markers count")
                .tag("topic", topic).register(meters);
    }

    /** Checks the committed offsets of partitions just assigned, off the caller's thread (the consumer's). */
    void check(Map<TopicPartition, OffsetAndMetadata> committed) {
        executor.execute(() -> checkNow(committed));
    }

    /** The same, now; returns how many offsets were found skipped. */
    long checkNow(Map<TopicPartition, OffsetAndMetadata> committed) {
        long found = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : committed.entrySet()) {
            TopicPartition tp = e.getKey();
            if (e.getValue() == null || !tp.topic().equals(topic)) {
                continue; // nothing committed yet: the worker starts from the log's beginning
            }
            long at = e.getValue().offset();
            long last;
            try {
                last = audit.lastOutcomeOffset(tp.topic(), tp.partition(), at);
            } catch (java.sql.SQLException ex) {
                log.warn("could not check the group's offset {} of {} against the audit table ({}); not checked this time", at, tp,
                        dev.cioerasure.audit.Databases.why(ex));
                continue;
            }
            if (at > last + 1) {
                long n = at - last - 1;
                found += n;
                skipped.increment(n);
                log.error("{} offset(s) of {}, {} to {}, were passed by group {}'s committed offset {} without an outcome row: requests"
                        + " among them were not erased and are not in the audit table. Something other than a worker moved the offset"
                        + " (kafka-consumer-groups --reset-offsets, or another consumer using group {}), or the audit table lost rows"
                        + " (restored from an older backup?). To process them, stop the workers and run: kafka-consumer-groups"
                        + " --bootstrap-server {} --group {} --reset-offsets --topic {}:{} --to-offset {} --execute (records processed"
                        + " since are recognised: not sent again, not recorded twice)", n, tp, last + 1, at - 1, group, at, group, bootstrapServers, group, tp.topic(),
                        tp.partition(), last + 1);
            }
        }
        return found;
    }
}
