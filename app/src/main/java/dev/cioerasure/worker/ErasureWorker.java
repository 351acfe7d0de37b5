package dev.cioerasure.worker;

import dev.cioerasure.audit.AuditLog;
import dev.cioerasure.audit.AuditWriter;
import dev.cioerasure.audit.OutcomeLookup;
import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.threads.DaemonThreads;
import dev.cioerasure.threads.Repeating;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.NoOffsetForPartitionException;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer loop, over the request topic and its retry topic. One thread owns the
 * Kafka {@link Consumer}; many erasures are in flight at once (throughput is set by the rate
 * limit, not by Track latency), none holding a thread while it waits ({@link RecordProcessor}).
 * When {@code maxInFlight} records are unfinished the partitions are paused.
 * Retry-topic records are held (parked) until their not-before time without blocking anything
 * else; when too many are parked only the retry topic pauses.
 *
 * <p>Offsets are committed only up to the first record whose outcome is not yet durable
 * ({@link OffsetTracker}). On revocation, in-flight work of the revoked partitions is awaited
 * and committed before the partitions go; on {@link #close()} (SIGTERM) the worker stops taking
 * work, waits for what is in flight, commits, and leaves the group. Work that cannot finish in
 * time is not committed and is redone by the next owner; duplicates are absorbed by the
 * database (one outcome per Kafka record, one final outcome per request id).
 */
public final class ErasureWorker implements Runnable, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ErasureWorker.class);
    private static final Duration COMMIT_INTERVAL = Duration.ofMillis(500);
    private static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(30);

    private final Settings.Kafka kafka;
    /** Out-of-memory failures of poll that {@link #skipUnreadable} could not explain. */
    private int unexplainedOutOfMemory;
    private final int maxInFlight;
    private final Duration drainTimeout;
    private final Consumer<byte[], byte[]> consumer;
    /** Null unless it joins by the consumer group protocol as a static member (InstanceIdRelease says why). */
    private final InstanceIdRelease release;
    /** Why it has not joined yet while it waits for its instance id, or null. */
    private volatile String joinWait;
    private final ExpiredRecords expired;
    private final Producer<byte[], byte[]> producer;
    private final AuditWriter auditWriter;
    private final AuditLog auditLog;
    private final OutcomeLookup outcomeLookup;
    private final RecordProcessor processor;
    private final Republisher republisher;
    private final ExecutorService pool;
    private final OffsetTracker offsets = new OffsetTracker();
    /** Records in flight: taken, started, outcome not yet durable; never more than {@code maxInFlight}. */
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Records ready to start (due parked records, retries) while every slot is taken. */
    private final java.util.Queue<Waiting> waitingForSlot = new java.util.concurrent.ConcurrentLinkedQueue<>();

    private record Waiting(ConsumerRecord<byte[], byte[]> rec, OffsetTracker.Partition partition) { }
    private final AtomicLong finished = new AtomicLong();
    private final List<AutoCloseable> meterBinders = new ArrayList<>();
    private final Clock clock;
    private final int maxParked;
    private final ScheduledExecutorService scheduler;
    /** Refreshes the deadline gauges: a database read, kept off the retry timers. */
    private final ScheduledExecutorService deadlineTimer;
    private final SkippedRecords skippedRecords;
    private final ScheduledExecutorService healthPinger;
    private final ScheduledExecutorService backlogTimer;
    private final ScheduledExecutorService budgetTimer;
    /** The group's rate budgets: each workspace's Track API budget, and its App API budget when it verifies. */
    private final List<GroupRateBudget> budgets;
    private final BacklogMonitor backlogMonitor;
    private final ChainCheckpoints checkpoints;
    private final ScheduledExecutorService checkpointTimer;
    /** Why the last check of the audit database failed (no values), or null when it answered. */
    private volatile String databaseProblem;
    /**
     * Retry-topic records waiting for their not-before time, and records waiting to be tried again
     * after an unexpected failure; taken (uncommitted) but not in flight.
     */
    private final ParkedRecords parked;
    /** How long a record that failed unexpectedly waits before it is tried again. */
    static final Duration UNEXPECTED_RETRY = Duration.ofSeconds(5);
    /** The longest wait before a retry round (ERASURE_RETRY_DELAYS): no retry record is held longer. */
    private final Duration longestRetryWait;
    /** Checks that the person is gone (App API), or null when verification is off. */
    private final VerificationProcessor verifier;
    /** Verification-topic records waiting for their next check; taken (uncommitted) but not in flight. */
    private final ParkedRecords verifyParked;
    /** Verification records being checked now (they take no erasure slot). */
    private final AtomicInteger verifying = new AtomicInteger();

    /** When each record in flight was first started (nanoTime); retries of the same record keep it. */
    private final Map<RecordKey, Long> startedAt = new ConcurrentHashMap<>();
    private final Duration stallAfter;
    private volatile boolean running = true;
    private volatile boolean loopAlive;
    /** What ended the consumer loop when it was not asked to stop; null otherwise. */
    private volatile RuntimeException failure;
    private volatile boolean assigned;
    private volatile int assignedPartitions;
    private volatile Thread loopThread;
    /** Records this instance has yet to finish: lag of its request partitions plus records taken; -1 until known. */
    private final AtomicLong backlogRecords;

    /**
     * Everything the worker works with, assembled by {@link WorkerRuntime} (the one place the
     * object graph is built). The worker owns these from then on: it starts the timers and closes
     * every part when its loop ends.
     *
     * @param checkpoints     signed checkpoints of the audit chain, or null when not configured
     * @param backlogRecords  where the loop publishes its backlog (for the rate budget); -1 until known
     * @param verifier        checks of the verification topic, or null when verification is off
     * @param budgets         the group's rate budgets (Track API and, when verifying, App API, per workspace)
     * @param release         waits for the group to release this instance's id before it joins (consumer group
     *                        protocol with static membership), or null
     */
    record Parts(Settings.Kafka kafka, Settings.Worker worker, Consumer<byte[], byte[]> consumer,
                 Producer<byte[], byte[]> producer, AuditWriter auditWriter, AuditLog auditLog,
                 OutcomeLookup outcomeLookup, Republisher republisher, RecordProcessor processor, ExecutorService pool,
                 List<GroupRateBudget> budgets, BacklogMonitor backlogMonitor, ChainCheckpoints checkpoints, AtomicLong backlogRecords,
                 VerificationProcessor verifier, MeterRegistry meters, Clock clock, InstanceIdRelease release) { }

    ErasureWorker(Parts d) {
        this.kafka = d.kafka();
        this.maxInFlight = d.worker().maxInFlight();
        this.drainTimeout = Duration.ofSeconds(30);
        this.consumer = d.consumer();
        this.release = d.release();
        this.producer = d.producer();
        this.backlogMonitor = d.backlogMonitor();
        KafkaClientMetrics consumerMetrics = new KafkaClientMetrics(consumer);
        consumerMetrics.bindTo(d.meters());
        KafkaClientMetrics producerMetrics = new KafkaClientMetrics(producer);
        producerMetrics.bindTo(d.meters());
        meterBinders.add(consumerMetrics);
        meterBinders.add(producerMetrics);
        this.auditWriter = d.auditWriter();
        this.auditLog = d.auditLog();
        this.pool = d.pool();
        this.republisher = d.republisher();
        this.outcomeLookup = d.outcomeLookup();
        this.processor = d.processor();
        this.clock = d.clock();
        this.backlogRecords = d.backlogRecords();
        this.budgets = List.copyOf(d.budgets());
        this.budgetTimer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("rate-budget-"));
        for (GroupRateBudget b : budgets) {
            Repeating.every(budgetTimer, "the renewal of the rate budget's lease", b::renew, 0, GroupRateBudget.RENEW_MILLIS, TimeUnit.MILLISECONDS);
        }
        this.verifier = d.verifier();
        this.expired = new ExpiredRecords(consumedTopics(), this::lossOf, d.meters());
        this.maxParked = d.worker().maxParked();
        this.longestRetryWait = d.worker().longestRetryDelay().orElse(RecordProcessor.MAX_PAUSED_WAIT);
        this.stallAfter = d.worker().stallAfter();
        this.scheduler = Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("retry-timer-"));
        this.parked = new ParkedRecords(scheduler);
        this.verifyParked = new ParkedRecords(scheduler);
        Gauge.builder(MetricNames.VERIFICATION_PENDING, this, w -> w.verifyParked.size() + w.verifying.get())
                .description("Verification records this instance holds until their next check, or is checking").register(d.meters());
        this.deadlineTimer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("deadlines-"));
        new DeadlineGauges(auditLog.openRequests(), d.clock(), d.meters()).schedule(deadlineTimer);
        new ClockCheck(auditLog, d.clock(), d.meters()).schedule(deadlineTimer);
        this.skippedRecords = new SkippedRecords(kafka.topic(), kafka.groupId(), kafka.bootstrapServers(), auditLog, deadlineTimer, d.meters());
        // Readiness also reflects a database that is down while there happens to be nothing to write.
        this.healthPinger = Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("db-ping-"));
        Repeating.every(healthPinger, "the check of PostgreSQL", () -> databaseProblem = auditLog.whyUnreachable().orElse(null), 0, 5, TimeUnit.SECONDS);
        this.backlogTimer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("backlog-"));
        Repeating.every(backlogTimer, "the backlog's refresh", backlogMonitor::refresh, 0, 15, TimeUnit.SECONDS);
        this.checkpoints = d.checkpoints();
        this.checkpointTimer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.numbered("checkpoint-"));
        if (checkpoints != null) {
            long every = checkpoints.every().toMillis();
            Repeating.every(checkpointTimer, "the checkpoint of the audit chain", checkpoints::publish, every, every, TimeUnit.MILLISECONDS);
        }
        Gauge.builder(MetricNames.RETRY_PARKED, parked, ParkedRecords::size)
                .description("Records held until they are due: retry-topic records until their retry round, records that failed"
                        + " unexpectedly for 5 s").register(d.meters());
        Gauge.builder(MetricNames.IN_FLIGHT, inFlight, AtomicInteger::get)
                .description("Records taken whose outcome is not yet durable").register(d.meters());
        Gauge.builder(MetricNames.OLDEST_IN_FLIGHT_AGE, this, w -> w.oldestInFlight().toMillis() / 1000.0)
                .description("Age of the oldest record taken whose outcome is not yet durable (0 when none)")
                .baseUnit("seconds").register(d.meters());
    }

    /**
     * Kafka's own per-partition lag/lead series are left out: they appear twice (topic names with
     * '.' and with '_'), read NaN between fetches and go stale; erasure_backlog_records replaces
     * them. Configure it on the registry before any meter is registered.
     */
    public static io.micrometer.core.instrument.config.MeterFilter kafkaClientSeriesFilter(Settings.Kafka k) {
        List<String> ours = List.of(k.topic(), k.retryTopic(), k.dlqTopic(), k.verifyTopic());
        return io.micrometer.core.instrument.config.MeterFilter.deny(id ->
                id.getName().startsWith("kafka.consumer.fetch.manager.records.lag")
                        || id.getName().startsWith("kafka.consumer.fetch.manager.records.lead")
                        || (id.getName().startsWith("kafka.") && id.getTag("topic") != null && id.getTag("topic").contains("_")
                            && !ours.contains(id.getTag("topic"))));
    }

    /**
     * The worker's consumer: in the group, from the earliest record, polls sized to the in-flight
     * limit; with static membership when the instance id is stable.
     */
    public static Consumer<byte[], byte[]> consumer(KafkaClients clients, Settings.Worker w) {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, clients.settings().groupId());
        // No automatic reset: a new group starts from the earliest record, and a position the
        // retention deleted is said and counted before reading goes on (ExpiredRecords).
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        // A poll takes at most a quarter of the in-flight limit, and the loop polls only while that
        // much room is left, so records in flight never exceed the limit (which bounds memory and
        // what a stop or rebalance waits for).
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, pollSize(w.maxInFlight()));
        if (w.staticMembership()) {
            // A restarted instance with the same id (e.g. after a crash) takes its partitions back at
            // once instead of waiting for the old member's session to time out.
            p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, w.instanceId());
        }
        return clients.consumer("cio-erasure-" + w.instanceId(), p);
    }

    /**
     * The worker's producer for dead letters, parked records, verification records and outcome
     * events. {@link Republisher} sends until Kafka acknowledges, so its timeouts lose nothing:
     * they bound how long a record waits before the log says why (a broker down, a topic deleted
     * while the worker runs) and it is sent again: 30 s for an accepted record rather than Kafka's
     * 120 s, and 10 s rather than 60 s for a send to a topic without metadata, which blocks the
     * processing thread that made it.
     */
    public static Producer<byte[], byte[]> producer(KafkaClients clients, Settings.Worker w) {
        return clients.producer("cio-erasure-dlq-" + w.instanceId(), Map.of(ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000));
    }

    /**
     * After the consumer ran out of memory reading records: one of them expands beyond the heap.
     * Kafka decompresses a batch record by record, each in a buffer of its full size, so a producer
     * with Write on a topic can send a batch of well under a megabyte (zeros compress a
     * thousandfold) holding a record of hundreds, which would stop the worker at every start. The
     * poll that failed lost the records it had collected, so every partition goes back to the
     * first record not taken; {@link HeapBreakingRecord} finds the record, the records before it
     * in its partition are processed as read by the search, and the record itself is rejected
     * (OVERSIZE: no request is that large) at its coordinates, its DLQ copy without a value.
     * The third failure that the search cannot explain stops the worker, saying where it read.
     */
    private void skipUnreadable() {
        Map<TopicPartition, Long> from = resumePositions();
        from.forEach(consumer::seek);
        java.util.Optional<HeapBreakingRecord.Found> found = HeapBreakingRecord.find(kafka, from);
        if (found.isEmpty()) {
            if (++unexplainedOutOfMemory >= 3) {
                throw OutOfMemoryReading.near(from);
            }
            log.warn("out of memory reading records, and no record was found that the heap cannot hold; reading again");
            return;
        }
        HeapBreakingRecord.Found f = found.get();
        long heapMiB = OutOfMemoryReading.heapMiB();
        log.error("{}@{} expands beyond the heap ({} MiB), so no worker with this heap can read it: rejected as OVERSIZE, its DLQ"
                + " copy without its value; the {} record(s) before it there go on", f.partition(), f.offset(), heapMiB, f.before().size());
        for (ConsumerRecord<byte[], byte[]> rec : f.before()) {
            dispatch(rec);
        }
        consumer.seek(f.partition(), f.offset() + 1);
        start(new HeapBreakingRecord.Unreadable(f.partition(), f.offset(), "record expands beyond the worker's heap (" + heapMiB
                + " MiB); the limit is " + dev.cioerasure.request.RequestParser.MAX_MESSAGE_BYTES + " bytes"),
                offsets.taken(f.partition(), f.offset()));
    }

    /** Where each partition held resumes: after the last record taken, else at the group's committed offset, else the beginning. */
    private Map<TopicPartition, Long> resumePositions() {
        Map<TopicPartition, Long> at = new java.util.TreeMap<>(
                java.util.Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        Set<TopicPartition> held = consumer.assignment();
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(held, Duration.ofSeconds(10));
        Map<TopicPartition, Long> beginnings = consumer.beginningOffsets(held, Duration.ofSeconds(10));
        for (TopicPartition tp : held) {
            long next = offsets.next(tp);
            OffsetAndMetadata c = committed.get(tp);
            at.put(tp, next >= 0 ? next : c != null ? c.offset() : beginnings.get(tp));
        }
        return at;
    }

    /** The worker stops: records it cannot read keep failing, and the search finds none that explains it. */
    public static final class OutOfMemoryReading extends RuntimeException {
        private OutOfMemoryReading(String message) {
            super(message, null, false, false);
        }

        public static OutOfMemoryReading near(Map<TopicPartition, Long> positions) {
            List<String> at = new ArrayList<>();
            positions.forEach((tp, offset) -> at.add(tp + " offset " + offset));
            return new OutOfMemoryReading("out of memory (" + heapMiB() + " MiB heap) three times reading records at or after "
                    + (at.isEmpty() ? "no partition" : String.join(", ", at)) + ", and no single record there is larger than the heap");
        }

        static OutOfMemoryReading inTheLoop() {
            return new OutOfMemoryReading("out of memory (" + heapMiB() + " MiB heap) in the consumer loop");
        }

        /** The heap this JVM may use, in MiB (-Xmx). */
        static long heapMiB() {
            return Runtime.getRuntime().maxMemory() / (1024 * 1024);
        }
    }

    static int pollSize(int maxInFlight) {
        return Math.max(1, Math.min(500, maxInFlight / 4));
    }


    @Override
    public void run() {
        loopThread = Thread.currentThread();
        loopAlive = true;
        long nextCommit = 0;
        long nextProgress = System.nanoTime() + PROGRESS_INTERVAL.toNanos();
        long lastFinished = 0;
        try {
            List<String> topics = consumedTopics();
            if (release != null && !release.await(() -> running, reason -> joinWait = reason)) {
                return; // stopped while it waited: nothing taken
            }
            consumer.subscribe(topics, new Rebalance());
            log.info("worker consuming {} as group {} (max {} in flight)", topics, kafka.groupId(), maxInFlight);
            while (running) {
                ConsumerRecords<byte[], byte[]> records;
                try {
                    records = consumer.poll(Duration.ofMillis(100));
                } catch (WakeupException e) {
                    break;
                } catch (OutOfMemoryError e) {
                    // a record that expands beyond the heap (a compressed batch): poll fails on it, at every start
                    skipUnreadable();
                    continue;
                } catch (NoOffsetForPartitionException e) {
                    consumer.seekToBeginning(e.partitions()); // the group has committed nothing there yet
                    continue;
                } catch (OffsetOutOfRangeException e) {
                    try {
                        expired.skipPast(consumer, e.offsetOutOfRangePartitions());
                    } catch (org.apache.kafka.common.errors.TimeoutException slow) {
                        // the log's start could not be read: the next poll finds the same positions and tries again
                        log.warn("cannot read where the log starts on {} ({}); trying again", e.partitions(), slow.getClass().getSimpleName());
                    }
                    continue;
                }
                for (ConsumerRecord<byte[], byte[]> rec : records) {
                    dispatch(rec);
                }
                applyBackpressure();
                backlogRecords.set(backlog());
                long now = System.nanoTime();
                if (now >= nextCommit) {
                    commitAsync();
                    nextCommit = now + COMMIT_INTERVAL.toNanos();
                }
                if (now >= nextProgress) {
                    long done = finished.get();
                    log.info("progress: {} records finished in the last {} s, {} in flight, {}",
                            done - lastFinished, PROGRESS_INTERVAL.toSeconds(), inFlight.get(),
                            notReadyReason().map(r -> "NOT READY: " + r).orElse("ready"));
                    lastFinished = done;
                    nextProgress = now + PROGRESS_INTERVAL.toNanos();
                }
            }
            shutdownGracefully();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // asked to stop while waiting to join
        } catch (InstanceIdRelease.Held e) {
            failure = e; // said by the command, in one line
        } catch (RuntimeException e) {
            // kept for the command to explain and exit with, not thrown: a thread that dies of it
            // prints a stack trace of its own
            log.error("worker loop stopped by an unexpected error: {}", e.toString());
            failure = e;
        } catch (OutOfMemoryError e) {
            // out of memory elsewhere than reading records (those are skipped above): the command exits 70, saying so
            failure = OutOfMemoryReading.inTheLoop();
            log.error("worker loop stopped: {}", failure.getMessage());
        } finally {
            loopAlive = false;
            closeQuietly();
        }
    }

    private void dispatch(ConsumerRecord<byte[], byte[]> rec) {
        TopicPartition tp = new TopicPartition(rec.topic(), rec.partition());
        OffsetTracker.Partition partition = offsets.taken(tp, rec.offset());
        if (verifier != null && rec.topic().equals(kafka.verifyTopic())) {
            whenDue(rec, tp, verifyParked, verifier.longestWait(), () -> verify(rec, partition));
        } else if (rec.topic().equals(kafka.retryTopic())) {
            whenDue(rec, tp, parked, longestRetryWait, () -> start(rec, partition));
        } else {
            start(rec, partition);
        }
    }

    /**
     * Runs a retry- or verification-topic record's work now if it is due, else parks it in memory
     * until its not-before time: its offset stays uncommitted meanwhile, so a crash re-reads and
     * re-parks it, and nothing else waits for it.
     */
    private void whenDue(ConsumerRecord<byte[], byte[]> rec, TopicPartition tp, ParkedRecords until, Duration longest, Runnable work) {
        Duration wait = Duration.between(clock.instant(), republisher.notBefore(rec));
        if (wait.compareTo(longest) > 0) {
            // Longer than any wait this worker sets (a record written by someone else, or under longer
            // delays, or by a clock far ahead): held for the longest instead, never for years.
            log.warn("record {}-{}@{} asks to wait {} s, longer than any wait this worker sets; held {} s instead", rec.topic(),
                    rec.partition(), rec.offset(), wait.toSeconds(), longest.toSeconds());
            wait = longest;
        }
        if (wait.isNegative() || wait.isZero()) {
            work.run();
        } else {
            until.park(new RecordKey(tp, rec.offset()), wait, work);
        }
    }

    /**
     * One check of the verification topic, on the verifier's own pool and limit: it takes no
     * erasure slot, so verification never slows erasures.
     */
    private void verify(ConsumerRecord<byte[], byte[]> rec, OffsetTracker.Partition partition) {
        verifying.incrementAndGet();
        CompletableFuture<Void> check;
        try {
            check = verifier.process(rec);
        } catch (RuntimeException e) {
            check = CompletableFuture.failedFuture(e);
        }
        check.whenComplete((v, e) -> {
            verifying.decrementAndGet();
            if (e == null) {
                partition.done(rec.offset());
            } else if (isCancellation(e) || !running) {
                log.debug("verification record {}-{}@{} handed back: {}", rec.topic(), rec.partition(), rec.offset(), e.toString());
            } else {
                log.error("verification record {}-{}@{} failed unexpectedly ({}); retrying it in 5 s", rec.topic(), rec.partition(),
                        rec.offset(), e.getClass().getSimpleName());
                // parked, so that a revocation or a stop hands it back instead of waiting for it
                verifyParked.park(RecordKey.of(rec), UNEXPECTED_RETRY,
                        () -> verify(rec, partition));
            }
        });
    }

    /** Takes an in-flight slot if one is free. */
    private boolean admit() {
        while (true) {
            int n = inFlight.get();
            if (n >= maxInFlight) {
                return false;
            }
            if (inFlight.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Starts a record now if a slot is free, else when one is (parked records that became due, retries). */
    private void start(ConsumerRecord<byte[], byte[]> rec, OffsetTracker.Partition partition) {
        if (!admit()) {
            waitingForSlot.add(new Waiting(rec, partition));
            // a slot may have been freed between the check and the queueing
            startWaiting();
            return;
        }
        run(rec, partition);
    }

    private void startWaiting() {
        Waiting next;
        while (inFlight.get() < maxInFlight && (next = waitingForSlot.poll()) != null) {
            start(next.rec(), next.partition());
        }
    }

    private void run(ConsumerRecord<byte[], byte[]> rec, OffsetTracker.Partition partition) {
        RecordKey key = RecordKey.of(rec);
        startedAt.putIfAbsent(key, System.nanoTime());
        processor.process(rec).whenComplete((v, e) -> {
            inFlight.decrementAndGet();
            startWaiting();
            if (e == null || isCancellation(e) || !running) {
                startedAt.remove(key);
            }
            if (e == null) {
                partition.done(rec.offset());
                finished.incrementAndGet();
            } else if (isCancellation(e) || !running) {
                // Shutdown: not marked done, so the offset stays uncommitted and the record is redone.
                log.debug("record {}-{}@{} handed back: {}", rec.topic(), rec.partition(), rec.offset(), e.toString());
            } else {
                // An unexpected error must neither lose the record nor hold its partition's commits
                // forever: try the record again shortly. Parked meanwhile, like a retry-topic record
                // not yet due: a revocation or a stop hands it back to be redone by the partition's
                // next owner, instead of waiting for it, and this instance never runs it again after.
                log.error("record {}-{}@{} failed unexpectedly ({}); retrying it in 5 s", rec.topic(), rec.partition(),
                        rec.offset(), e.getClass().getSimpleName());
                parked.park(key, UNEXPECTED_RETRY, () -> start(rec, partition));
            }
        });
    }

    /** Pause everything while saturated or the audit database is down; pause only the retry topic while it holds too much. */
    private static boolean isCancellation(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.util.concurrent.CancellationException) {
                return true;
            }
        }
        return false;
    }

    /**
     * What this instance has yet to do, in records: the lag of its request-topic partitions (known
     * locally from the last fetch, no broker call) plus the records it has taken and not finished.
     * -1 while the lag of a partition is not known yet.
     */
    private long backlog() {
        long total = inFlight.get() + waitingForSlot.size();
        for (TopicPartition tp : consumer.assignment()) {
            if (tp.topic().equals(kafka.topic())) {
                OptionalLong lag = consumer.currentLag(tp);
                if (lag.isEmpty()) {
                    return -1;
                }
                total += lag.getAsLong();
            }
        }
        return total;
    }

    private void applyBackpressure() {
        Set<TopicPartition> assignment = consumer.assignment();
        Set<TopicPartition> toPause = new HashSet<>();
        if (inFlight.get() + waitingForSlot.size() + pollSize(maxInFlight) > maxInFlight || !auditWriter.isHealthy()) {
            toPause.addAll(assignment);
        } else {
            if (parked.size() >= maxParked) {
                assignment.stream().filter(tp -> tp.topic().equals(kafka.retryTopic())).forEach(toPause::add);
            }
            if (verifyParked.size() + verifying.get() >= maxParked) {
                assignment.stream().filter(tp -> tp.topic().equals(kafka.verifyTopic())).forEach(toPause::add);
            }
        }
        if (!toPause.isEmpty()) {
            consumer.pause(toPause);
        }
        Set<TopicPartition> toResume = new HashSet<>(consumer.paused());
        toResume.removeAll(toPause);
        if (!toResume.isEmpty()) {
            consumer.resume(toResume);
        }
    }

    private void commitAsync() {
        Map<TopicPartition, OffsetAndMetadata> due = offsets.toCommit(null);
        if (due.isEmpty()) {
            return;
        }
        consumer.commitAsync(due, (committed, error) -> {
            if (error == null) {
                offsets.markCommitted(committed);
            } else {
                log.warn("offset commit failed ({}); will retry", error.getClass().getSimpleName());
            }
        });
    }

    private void commitSync(Collection<TopicPartition> only) {
        Map<TopicPartition, OffsetAndMetadata> due = offsets.toCommit(only);
        if (due.isEmpty()) {
            return;
        }
        try {
            pastAWakeup(() -> {
                consumer.commitSync(due, Duration.ofSeconds(10));
                return null;
            });
            offsets.markCommitted(due);
        } catch (RuntimeException e) {
            log.warn("offset commit failed ({}); uncommitted records will be redone", e.getClass().getSimpleName());
        }
    }

    /** Waits until the given partitions (all when null) have nothing in flight, or the timeout passes. */
    private boolean awaitDrained(Collection<TopicPartition> only, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (offsets.pending(only) - parked.count(only) - verifyParked.count(only) > 0) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private void shutdownGracefully() {
        consumer.pause(consumer.assignment());
        int pending = offsets.pending(null) - parked.count(null) - verifyParked.count(null);
        log.info("stopping: no new work taken; waiting up to {} s for {} record(s) in flight", drainTimeout.toSeconds(), pending);
        // Parked records are not in flight: wait for the others, then hand the parked ones back
        // (uncommitted, so they are read and parked again after a restart).
        boolean drained = awaitDrained(null, drainTimeout);
        parked.handBack(null);
        verifyParked.handBack(null);
        commitSync(null);
        if (!drained) {
            log.warn("stopping with {} record(s) unfinished: not committed, they will be redone", inFlight.get());
        }
        // Everything that could be committed is. What stays pending (the parked records handed back,
        // anything unfinished) must not be waited for again when closing revokes the partitions:
        // the parked ones would count as in flight there, and hold the stop for the whole drain timeout.
        offsets.remove(consumer.assignment());
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            // Finish (or give up on) what is in flight for these partitions, then commit them, so
            // the next owner starts exactly after the last durable outcome.
            boolean drained = awaitDrained(partitions, drainTimeout);
            parked.handBack(partitions);
            verifyParked.handBack(partitions);
            commitSync(partitions);
            if (!drained) {
                log.warn("partitions {} revoked with work in flight; the new owner redoes it", partitions);
            }
            offsets.remove(partitions);
            startedAt.keySet().removeIf(k -> partitions.contains(k.partition()));
            waitingForSlot.removeIf(w -> partitions.contains(new TopicPartition(w.rec().topic(), w.rec().partition())));
            assignedPartitions = consumer.assignment().size() - partitions.size();
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            log.warn("partitions {} lost; uncommitted work will be redone by their new owner", partitions);
            parked.handBack(partitions);
            verifyParked.handBack(partitions);
            offsets.remove(partitions);
            startedAt.keySet().removeIf(k -> partitions.contains(k.partition()));
            waitingForSlot.removeIf(w -> partitions.contains(new TopicPartition(w.rec().topic(), w.rec().partition())));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            assigned = true;
            assignedPartitions = consumer.assignment().size();
            if (!partitions.isEmpty()) {
                log.info("assigned {}", partitions);
            }
            checkCommittedOffsets(partitions);
        }
    }

    /** Whether the group's offsets of these request-topic partitions passed records without an outcome row ({@link SkippedRecords}). */
    private void checkCommittedOffsets(Collection<TopicPartition> partitions) {
        java.util.Set<TopicPartition> requests = partitions.stream().filter(tp -> tp.topic().equals(kafka.topic()))
                .collect(java.util.stream.Collectors.toSet());
        if (requests.isEmpty()) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> committed;
        try {
            committed = pastAWakeup(() -> consumer.committed(requests, Duration.ofSeconds(10)));
        } catch (RuntimeException e) {
            log.warn("could not read the group's offsets of {} to check them against the audit table ({}); not checked this time",
                    requests, e.getClass().getSimpleName());
            return;
        }
        skippedRecords.check(committed);
    }

    /** The topics the worker reads: requests, retry rounds and, with an App API key, verifications. */
    private List<String> consumedTopics() {
        return verifier == null ? List.of(kafka.topic(), kafka.retryTopic()) : List.of(kafka.topic(), kafka.retryTopic(), kafka.verifyTopic());
    }

    /** What records of a topic deleted unprocessed were: their requests' state, and what to do. */
    private String lossOf(String topic) {
        if (topic.equals(kafka.retryTopic())) {
            return "requests parked for a later retry round, which stay RETRY_SCHEDULED and are tried no more ('audit status' shows"
                    + " each; resubmit them from their source)";
        }
        if (topic.equals(kafka.verifyTopic())) {
            return "checks of erased persons, whose requests stay COMPLETED without a VERIFY row";
        }
        return "requests that were not erased and have no audit row; resubmit them from their source";
    }

    /** The error that ended the consumer loop, when it was not asked to stop. */
    public Optional<RuntimeException> failure() {
        return Optional.ofNullable(failure);
    }

    /** The loop is running. */
    public boolean isLive() {
        return loopAlive;
    }

    /** Measures the group's backlog now (normally every 15 s); for tests. */
    void refreshBacklog() {
        backlogMonitor.refresh();
    }

    /**
     * A consumer call made on the consumer's thread, called once more if it meets a wakeup: that
     * one was meant for poll() (a stop), which the loop notices on its own.
     */
    private static <T> T pastAWakeup(java.util.function.Supplier<T> call) {
        try {
            return call.get();
        } catch (WakeupException e) {
            return call.get();
        }
    }

    /** Records in flight now. */
    int inFlight() {
        return inFlight.get();
    }

    /** How long the oldest record in flight has been unfinished; zero when none is. */
    public Duration oldestInFlight() {
        long now = System.nanoTime();
        return startedAt.values().stream().mapToLong(t -> now - t).max().stream()
                .mapToObj(Duration::ofNanos).findFirst().orElse(Duration.ZERO);
    }

    /**
     * Running, has joined the group (possibly with no partitions), the audit database answers and
     * is writable, and no record has been in flight longer than {@code ERASURE_STALL_AFTER} (its
     * partition's committed offset cannot move past it).
     */
    public boolean isReady() {
        return notReadyReason().isEmpty();
    }

    /** Why the worker is not ready, for operators (no personal data); empty when it is. */
    public java.util.Optional<String> notReadyReason() {
        if (!running && loopAlive) {
            return java.util.Optional.of("stopping: no new work taken, finishing the records in flight (up to "
                    + drainTimeout.toSeconds() + " s), then leaving the group");
        }
        if (!loopAlive) {
            return java.util.Optional.of("consumer loop not running");
        }
        if (!backlogMonitor.kafkaReachable()) {
            return java.util.Optional.of("Kafka unreachable: " + backlogMonitor.problem());
        }
        String waiting = joinWait;
        if (waiting != null) {
            return java.util.Optional.of(waiting);
        }
        if (!assigned) {
            return java.util.Optional.of("not yet a member of consumer group " + kafka.groupId());
        }
        String database = databaseProblem;
        if (database != null) {
            return java.util.Optional.of("audit database unreachable (" + database + ")");
        }
        if (budgets.stream().anyMatch(b -> !b.healthy())) {
            return java.util.Optional.of("cannot renew this instance's lease of the group's Track or App API rate (table rate_budget_lease)");
        }
        if (!auditWriter.isHealthy()) {
            String why = auditWriter.lastFailure();
            return java.util.Optional.of("audit writes failing" + (why == null ? "" : " (" + why + ")"));
        }
        Duration oldest = oldestInFlight();
        if (oldest.compareTo(stallAfter) > 0) {
            return java.util.Optional.of("a record has been in flight for " + oldest.toSeconds() + " s (ERASURE_STALL_AFTER "
                    + stallAfter.toSeconds() + " s): its partition makes no progress");
        }
        return java.util.Optional.empty();
    }

    /** Partitions currently assigned to this instance. */
    public int assignedPartitions() {
        return assignedPartitions;
    }

    /** Stops taking work and returns once in-flight work is finished (or handed back) and committed. */
    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        Thread t = loopThread;
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join(drainTimeout.plusSeconds(30).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void closeQuietly() {
        scheduler.shutdownNow();
        deadlineTimer.shutdownNow();
        healthPinger.shutdownNow();
        stop(backlogTimer, 15);
        backlogMonitor.close();
        stop(budgetTimer, 5);
        budgets.forEach(GroupRateBudget::close);
        outcomeLookup.close();
        if (verifier != null) {
            verifier.close();
        }
        stop(pool, 10);
        processor.close();
        auditWriter.close(Duration.ofSeconds(10));
        stop(checkpointTimer, 15);
        if (checkpoints != null) {
            checkpoints.publish(); // the head after the last rows of this instance
        }
        for (AutoCloseable c : meterBinders) {
            try {
                c.close();
            } catch (Exception ignored) {
                // metrics only
            }
        }
        try {
            producer.close(Duration.ofSeconds(10));
        } catch (RuntimeException ignored) {
            // already closed
        }
        try {
            // Leave the group explicitly (also as a static member) so the partitions move at once.
            consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(10))
                    .withGroupMembershipOperation(org.apache.kafka.clients.consumer.CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
        } catch (RuntimeException ignored) {
            // already closed
        }
    }

    /** Interrupts an executor's tasks and waits for them to end, at most the given seconds. */
    private static void stop(ExecutorService executor, int seconds) {
        executor.shutdownNow();
        try {
            executor.awaitTermination(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

}
