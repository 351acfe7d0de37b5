package dev.cioerasure.worker;

import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * Finds the record the worker's consumer ran out of memory on. The consumer cannot say: it failed
 * inside a poll that was reading several partitions, and the records that poll had collected
 * before are lost with it. So a consumer of its own, outside the group, reads all the partitions
 * from where the worker stands, one record per poll: the poll that fails is the one that met the
 * record, and every partition's position before it is exact. Then each partition is tried alone
 * at that position, one record, to learn which one holds it; the records before it there are
 * read again, to be processed ({@link Found#before}). The group's offsets are untouched.
 */
final class HeapBreakingRecord {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(HeapBreakingRecord.class);
    /** How long the search may take in all; past it the worker says where it read instead. */
    static final Duration BUDGET = Duration.ofSeconds(30);

    /** The unreadable record's partition and offset, and the records of that partition from the worker's position up to it. */
    record Found(TopicPartition partition, long offset, List<ConsumerRecord<byte[], byte[]>> before) { }

    /** Stands for the record no one could read, to be rejected: only its coordinates, and why. */
    static final class Unreadable extends ConsumerRecord<byte[], byte[]> {
        private final String why;

        Unreadable(TopicPartition tp, long offset, String why) {
            super(tp.topic(), tp.partition(), offset, null, null);
            this.why = why;
        }

        String why() {
            return why;
        }
    }

    private HeapBreakingRecord() { }

    /** The first record from these positions that the heap cannot hold; empty if none is met within {@link #BUDGET}. */
    static Optional<Found> find(Settings.Kafka kafka, Map<TopicPartition, Long> positions) {
        long deadline = System.nanoTime() + BUDGET.toNanos();
        try (Consumer<byte[], byte[]> probe = new KafkaClients(kafka).consumer("cio-erasure-heap-probe",
                Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1))) {
            List<TopicPartition> all = new ArrayList<>(positions.keySet());
            probe.assign(all);
            positions.forEach(probe::seek);
            Map<TopicPartition, Long> ends = probe.endOffsets(all, Duration.ofSeconds(5));
            Map<TopicPartition, Long> at = new HashMap<>(positions);
            while (System.nanoTime() < deadline && at.entrySet().stream().anyMatch(e -> e.getValue() < ends.getOrDefault(e.getKey(), 0L))) {
                try {
                    for (ConsumerRecord<byte[], byte[]> r : probe.poll(Duration.ofMillis(200))) {
                        at.put(new TopicPartition(r.topic(), r.partition()), r.offset() + 1);
                    }
                    for (TopicPartition tp : all) {
                        at.put(tp, probe.position(tp, Duration.ofSeconds(5))); // past transaction markers too
                    }
                } catch (OutOfMemoryError e) {
                    return which(probe, positions, at, ends, deadline);
                }
            }
        } catch (RuntimeException e) {
            // the cluster did not answer the search: the worker says where it read instead
            log.warn("the search for a record that expands beyond the heap failed ({}; cause {})", e.toString(), String.valueOf(e.getCause()));
        }
        return Optional.empty();
    }

    /** Which partition holds the record at its exact position {@code at}: the one whose next record alone does not fit. */
    private static Optional<Found> which(Consumer<byte[], byte[]> probe, Map<TopicPartition, Long> from, Map<TopicPartition, Long> at,
                                         Map<TopicPartition, Long> ends, long deadline) {
        for (TopicPartition tp : from.keySet()) {
            if (at.get(tp) >= ends.getOrDefault(tp, 0L)) {
                continue; // nothing left to read there
            }
            probe.assign(List.of(tp));
            probe.seek(tp, at.get(tp));
            boolean unreadable;
            try {
                long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
                while (probe.poll(Duration.ofMillis(200)).isEmpty() && probe.position(tp) == at.get(tp) && System.nanoTime() < until) {
                    // the next record, or a marker the position moves past
                }
                unreadable = false;
            } catch (OutOfMemoryError e) {
                unreadable = true;
            } catch (org.apache.kafka.common.KafkaException e) {
                // the fetch that failed is still buffered at that position: Kafka says so, naming the partition
                unreadable = String.valueOf(e.getMessage()).startsWith("Received exception when fetching the next record from " + tp + ".");
                if (!unreadable) {
                    throw e;
                }
            }
            if (unreadable) {
                List<ConsumerRecord<byte[], byte[]>> before = new ArrayList<>();
                probe.seek(tp, from.get(tp));
                while (probe.position(tp, Duration.ofSeconds(5)) < at.get(tp) && System.nanoTime() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> r : probe.poll(Duration.ofMillis(200))) {
                        if (r.offset() < at.get(tp)) {
                            before.add(r);
                        }
                    }
                }
                return probe.position(tp) >= at.get(tp) ? Optional.of(new Found(tp, at.get(tp), before)) : Optional.empty();
            }
        }
        return Optional.empty();
    }
}
