package dev.cioerasure.worker;

import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.preflight.Preflight;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer group's backlog, measured the way kafka-lag-exporter and
 * {@code kafka-consumer-groups.sh --describe} do: per partition of the request and retry topics,
 * the log-end offset minus the group's committed offset (or minus the log-start offset when the
 * group has committed nothing there yet, as the worker then starts from the earliest record).
 * Also the age of the oldest waiting request: the Kafka timestamp of the record at the committed
 * offset of each request-topic partition with a backlog.
 *
 * <p>Every instance of the group exports the same group-wide figures; aggregate them with
 * {@code max by (topic, partition)}. Each refresh also tells whether Kafka answers: a failure
 * makes the worker not ready and is logged in one line naming the setting.
 */
final class BacklogMonitor implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BacklogMonitor.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final Duration REPEAT_LOG = Duration.ofMinutes(1);

    private final Settings.Kafka kafka;
    private final Admin admin;
    private final java.util.function.Supplier<Consumer<byte[], byte[]>> peeks;
    private Consumer<byte[], byte[]> peek;
    /** Partitions whose record at the group's offset (the offset kept here) expands beyond the heap: left out of the age until the group is past it. */
    private final Map<TopicPartition, Long> beyondTheHeap = new HashMap<>();
    private final Clock clock;
    private final MultiGauge backlog;
    private volatile double oldestWaitingSeconds = Double.NaN;
    private volatile double uncommitted;
    private volatile boolean reachable = true;
    private volatile String problem;
    private long lastProblemLog;

    BacklogMonitor(Settings.Kafka kafka, String instance, MeterRegistry meters, Clock clock) {
        this(kafka, instance, meters, clock, () -> new KafkaClients(kafka).consumer("cio-erasure-backlog-peek-" + instance,
                // one record a poll: a partition is paused after its first, and no record behind it is read
                Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1, ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 1 << 20)));
    }

    /** {@code peeks} makes the consumer that reads the records at the group's offsets (a new one after it met a record beyond the heap). */
    BacklogMonitor(Settings.Kafka kafka, String instance, MeterRegistry meters, Clock clock, java.util.function.Supplier<Consumer<byte[], byte[]>> peeks) {
        this.kafka = kafka;
        this.clock = clock;
        this.admin = new KafkaClients(kafka).admin("cio-erasure-backlog-" + instance, TIMEOUT);
        this.peeks = peeks;
        this.peek = peeks.get();
        this.backlog = MultiGauge.builder(MetricNames.BACKLOG)
                .description("Records of the group not yet committed: log-end offset minus committed offset, per partition")
                .register(meters);
        Gauge.builder(MetricNames.BACKLOG_OLDEST_AGE, this, m -> m.oldestWaitingSeconds)
                .description("Age of the oldest request waiting in the request topic (Kafka timestamp of the record at the"
                        + " group's committed offset); 0 when none waits")
                .baseUnit("seconds").register(meters);
        Gauge.builder(MetricNames.BACKLOG_UNCOMMITTED, this, m -> m.uncommitted)
                .description("Records of the request topic the group cannot read yet: in or behind a transaction still open"
                        + " (log-end offset minus last stable offset); they wait, unseen by the backlog's age, until it ends")
                .baseUnit("records").register(meters);
    }

    /** False while the last refresh could not reach Kafka. */
    boolean kafkaReachable() {
        return reachable;
    }

    /** Why Kafka is unreachable, or null. */
    String problem() {
        return reachable ? null : problem;
    }

    /** One refresh; called on a schedule (about one Prometheus scrape interval). */
    void refresh() {
        try {
            Map<String, TopicDescription> topics = admin.describeTopics(List.of(kafka.topic(), kafka.retryTopic()))
                    .allTopicNames().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            List<TopicPartition> partitions = new ArrayList<>();
            topics.values().forEach(t -> t.partitions().forEach(p -> partitions.add(new TopicPartition(t.name(), p.partition()))));
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(kafka.groupId())
                    .partitionsToOffsetAndMetadata().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Map<TopicPartition, Long> end = offsets(partitions, OffsetSpec.latest());
            Map<TopicPartition, Long> start = offsets(partitions, OffsetSpec.earliest());
            List<MultiGauge.Row<?>> rows = new ArrayList<>();
            Map<TopicPartition, Long> waitingFrom = new HashMap<>();
            for (TopicPartition tp : partitions) {
                OffsetAndMetadata c = committed.get(tp);
                long from = Math.max(c == null ? start.getOrDefault(tp, 0L) : c.offset(), start.getOrDefault(tp, 0L));
                long lag = Math.max(0, end.getOrDefault(tp, 0L) - from);
                rows.add(MultiGauge.Row.of(Tags.of("topic", tp.topic(), "partition", Integer.toString(tp.partition())), lag));
                if (lag > 0 && tp.topic().equals(kafka.topic())) {
                    waitingFrom.put(tp, from);
                }
            }
            backlog.register(rows, true);
            oldestWaitingSeconds = oldestAge(waitingFrom);
            uncommitted = uncommitted(partitions, end);
            if (!reachable) {
                log.info("Kafka at {} answers again", kafka.bootstrapServers());
            }
            reachable = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            problem = Preflight.kafkaProblem(kafka, e, TIMEOUT).getMessage();
            long now = System.nanoTime();
            if (reachable || now - lastProblemLog > REPEAT_LOG.toNanos()) {
                log.warn("{}; the worker keeps trying (readiness is 503 meanwhile)", problem);
                lastProblemLog = now;
            }
            reachable = false;
        }
    }

    private Map<TopicPartition, Long> offsets(List<TopicPartition> partitions, OffsetSpec spec) throws Exception {
        return offsets(partitions, spec, org.apache.kafka.common.IsolationLevel.READ_UNCOMMITTED);
    }

    /**
     * Records of the request topic past the last stable offset: a transaction still open holds
     * them (its own, and every committed record written after it), and the worker, reading
     * committed records only, cannot reach them until it commits or aborts. A producer that
     * opens one and hangs stops its partition for up to the transaction's timeout (15 min at the
     * broker's default most), again and again; the backlog's age says nothing, since nothing past
     * that offset can be read.
     */
    private double uncommitted(List<TopicPartition> partitions, Map<TopicPartition, Long> end) throws Exception {
        List<TopicPartition> requests = partitions.stream().filter(tp -> tp.topic().equals(kafka.topic())).toList();
        Map<TopicPartition, Long> stable = offsets(requests, OffsetSpec.latest(), org.apache.kafka.common.IsolationLevel.READ_COMMITTED);
        long n = 0;
        for (TopicPartition tp : requests) {
            n += Math.max(0, end.getOrDefault(tp, 0L) - stable.getOrDefault(tp, end.getOrDefault(tp, 0L)));
        }
        return n;
    }

    private Map<TopicPartition, Long> offsets(List<TopicPartition> partitions, OffsetSpec spec, org.apache.kafka.common.IsolationLevel isolation)
            throws Exception {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, spec));
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r = admin.listOffsets(request,
                        new org.apache.kafka.clients.admin.ListOffsetsOptions(isolation)).all()
                .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        Map<TopicPartition, Long> out = new HashMap<>();
        r.forEach((tp, info) -> out.put(tp, info.offset()));
        return out;
    }

    /**
     * Seconds since the oldest timestamp among the records at these offsets; 0 when none waits, NaN
     * when unread. A partition whose offsets hold no committed record (a transaction's marker, the
     * records of an aborted one: the committed offset stops short of them) has none waiting; it
     * read NaN for as long as the topic stayed idle.
     *
     * <p>Reading a record means holding its value, and a compressed record can expand beyond the
     * heap (the worker rejects it, {@link HeapBreakingRecord}). The poll that meets one fails
     * whole, so the partitions are then read one at a time to learn which one holds it; that
     * partition is left out until the group's offset there moves past it. Before, the error ended
     * this refresh's schedule: every backlog gauge kept its last value for good.
     */
    private double oldestAge(Map<TopicPartition, Long> waitingFrom) {
        beyondTheHeap.entrySet().removeIf(e -> !e.getValue().equals(waitingFrom.get(e.getKey())));
        Map<TopicPartition, Long> readable = new HashMap<>(waitingFrom);
        readable.keySet().removeAll(beyondTheHeap.keySet());
        if (readable.isEmpty()) {
            return 0;
        }
        Map<TopicPartition, Long> first = new HashMap<>();
        java.util.Set<TopicPartition> noneWaiting = new java.util.HashSet<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        try {
            firstRecords(readable, first, noneWaiting, deadline);
        } catch (OutOfMemoryError e) {
            renewPeek();
            first.clear();
            noneWaiting.clear();
            for (Map.Entry<TopicPartition, Long> one : readable.entrySet()) {
                try {
                    firstRecords(Map.of(one.getKey(), one.getValue()), first, noneWaiting, deadline);
                } catch (OutOfMemoryError alone) {
                    renewPeek();
                    beyondTheHeap.put(one.getKey(), one.getValue());
                    noneWaiting.add(one.getKey());
                    log.warn("the record at {}@{} expands beyond the heap: the backlog's age leaves it out until the group is past it"
                            + " (the worker rejects it as OVERSIZE)", one.getKey(), one.getValue());
                }
            }
        }
        if (first.isEmpty()) {
            return noneWaiting.size() == readable.size() ? 0 : Double.NaN;
        }
        long oldest = first.values().stream().mapToLong(Long::longValue).min().orElseThrow();
        return Math.max(0, clock.millis() - oldest) / 1000.0;
    }

    /** The timestamp of the first committed record from each of these offsets into {@code first}, or the partition into {@code noneWaiting}. */
    private void firstRecords(Map<TopicPartition, Long> from, Map<TopicPartition, Long> first, java.util.Set<TopicPartition> noneWaiting,
                              long deadline) {
        peek.assign(from.keySet());
        from.forEach(peek::seek);
        Map<TopicPartition, Long> lastStable = peek.endOffsets(from.keySet(), TIMEOUT); // read_committed: the LSO
        try {
            while (from.keySet().stream().anyMatch(tp -> !first.containsKey(tp) && !noneWaiting.contains(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : peek.poll(Duration.ofMillis(200))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    first.putIfAbsent(tp, r.timestamp());
                    peek.pause(List.of(tp));
                }
                for (TopicPartition tp : from.keySet()) {
                    if (!first.containsKey(tp) && peek.position(tp) >= lastStable.getOrDefault(tp, Long.MAX_VALUE)) {
                        noneWaiting.add(tp);
                    }
                }
            }
        } finally {
            peek.resume(peek.paused());
        }
    }

    /** A consumer that met a record beyond the heap keeps failing at it: a new one. */
    private void renewPeek() {
        try {
            peek.close(Duration.ofSeconds(5));
        } catch (RuntimeException ignored) {
            // it is being replaced
        }
        peek = peeks.get();
    }

    @Override
    public void close() {
        try {
            peek.close(Duration.ofSeconds(5));
        } catch (RuntimeException ignored) {
            // closing
        }
        admin.close(Duration.ofSeconds(5));
    }
}
