package dev.cioerasure.testing;

import dev.cioerasure.config.KafkaClientConfig;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import dev.cioerasure.worker.WorkerRuntime;
import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * A worker under test on the shared broker and a fresh database, with its own topics, talking to
 * the given Customer.io stub. Produces and reads with plain Kafka clients, independent of the
 * product's code.
 */
public final class WorkerHarness implements AutoCloseable {
    private static final AtomicInteger SEQ = new AtomicInteger();
    public static final String SITE_ID = "site-123";
    public static final String API_KEY = "track-key-secret-0123456789";
    public static final String AUDIT_KEY = "audit-subject-key-0123456789abcdef";

    public final String topic;
    public Settings settings;
    /** The audit database as its owner (a superuser in the tests); the worker logs in as the writer. */
    public final DataSource db;
    private final Settings.Database owner;
    private final Producer<byte[], byte[]> producer;
    private WorkerRuntime runtime;

    public WorkerHarness(URI trackUrl, int ratePerSecond, int maxAttempts, Duration requestTimeout, int partitions) throws Exception {
        this(TestInfra.kafka(), KafkaClientConfig.NONE, trackUrl, ratePerSecond, maxAttempts, requestTimeout, partitions);
    }

    /** Against another broker, e.g. one that requires SASL, with the worker's client settings for it. */
    public WorkerHarness(EmbeddedKafka kafka, KafkaClientConfig client, URI trackUrl, int ratePerSecond, int maxAttempts,
                         Duration requestTimeout, int partitions) throws Exception {
        int n = SEQ.incrementAndGet();
        this.topic = "erasure.requests.t" + n + "-" + UUID.randomUUID().toString().substring(0, 8);
        kafka.createTopics(partitions, topic, topic + ".dlq", topic + ".retry");
        Settings.Database database = TestInfra.freshDatabase();
        this.owner = database;
        this.db = TestInfra.dataSource(database);
        this.settings = new Settings(
                new Settings.Kafka(kafka.bootstrapServers(), topic, "group-" + topic, client),
                TestInfra.asWriter(database), // the worker runs with INSERT/SELECT only
                new Settings.CustomerIo(SITE_ID, Secret.of("CUSTOMERIO_TRACK_API_KEY", API_KEY), Settings.Region.US, trackUrl,
                        ratePerSecond, maxAttempts, Duration.ofSeconds(2), requestTimeout),
                new Settings.Audit(Secret.of("AUDIT_SUBJECT_KEY", AUDIT_KEY)),
                new Settings.Worker("it-worker-" + n, 32, 0),
                List.of());
        this.producer = new KafkaClients(settings.kafka()).producer("it-producer", Map.of());
    }

    /** Track v2 batches instead of v1 calls (before {@link #start()}). */
    public WorkerHarness batch(Settings.Batch b) {
        settings = new Settings(settings.kafka(), settings.database(), settings.customerIo().withBatch(b), settings.audit(), settings.worker(),
                settings.webhookSecrets());
        return this;
    }

    /** Several workspaces instead of the single one (before {@link #start()}); the first one's shared settings apply. */
    public WorkerHarness workspaces(List<Settings.Workspace> workspaces) {
        settings = new Settings(settings.kafka(), settings.database(), workspaces.get(0).customerIo(), settings.audit(), settings.worker(),
                settings.webhookSecrets(), workspaces);
        return this;
    }

    /** How long the circuit breaker pauses calls during an outage (before {@link #start()}). */
    public WorkerHarness outagePause(Duration d) {
        settings = new Settings(settings.kafka(), settings.database(), settings.customerIo().withBreakerOpenFor(d), settings.audit(),
                settings.worker(), List.of());
        return this;
    }

    /** Reads the Track API key from a file, as a mounted secret (before {@link #start()}). */
    public WorkerHarness apiKeyFile(java.nio.file.Path file) {
        Settings.CustomerIo c = settings.customerIo();
        settings = new Settings(settings.kafka(), settings.database(), new Settings.CustomerIo(c.siteId(),
                Secret.fromFile("CUSTOMERIO_TRACK_API_KEY_FILE", file), c.region(), c.trackUrl(), c.rateLimitPerSecond(),
                c.maxAttempts(), c.connectTimeout(), c.requestTimeout(), c.breakerOpenFor()), settings.audit(), settings.worker(), List.of());
        return this;
    }

    /** Points the worker at another database URL, e.g. through a proxy (before {@link #start()}). */
    public WorkerHarness databaseUrl(String url) {
        Settings.Database d = settings.database();
        settings = new Settings(settings.kafka(), new Settings.Database(url, d.user(), d.password(), d.poolSize()),
                settings.customerIo(), settings.audit(), settings.worker(), List.of(), settings.workspaces());
        return this;
    }

    /** Retry rounds for this harness (before {@link #start()}). */
    public WorkerHarness retryDelays(Duration... delays) {
        settings = new Settings(settings.kafka(), settings.database(), settings.customerIo(), settings.audit(),
                settings.worker().withRetryDelays(List.of(delays)), List.of(), settings.workspaces());
        return this;
    }

    /** In-flight limit and stall threshold for this harness (before {@link #start()}). */
    public WorkerHarness worker(int maxInFlight, Duration stallAfter) {
        Settings.Worker w = settings.worker();
        settings = new Settings(settings.kafka(), settings.database(), settings.customerIo(), settings.audit(),
                new Settings.Worker(w.instanceId(), maxInFlight, w.metricsPort(), w.retryDelays(), w.maxParked(), w.staticMembership(),
                        stallAfter), List.of(), settings.workspaces());
        return this;
    }

    /** Announces outcomes on {@code <topic>.outcomes}, created here (before {@link #start()}). */
    public WorkerHarness outcomeEvents() throws Exception {
        TestInfra.kafka().createTopics(3, topic + ".outcomes");
        settings = new Settings(settings.kafka().withOutcomesTopic(topic + ".outcomes"), settings.database(), settings.customerIo(),
                settings.audit(), settings.worker(), List.of(), settings.workspaces());
        return this;
    }

    /** Verification through the App API, with the verification topic created (before {@link #start()}). */
    public WorkerHarness verification(Settings.Verification v) throws Exception {
        TestInfra.kafka().createTopics(3, topic + ".verify");
        settings = new Settings(settings.kafka(), settings.database(), settings.customerIo().withVerification(v), settings.audit(),
                settings.worker(), List.of());
        return this;
    }

    public static WorkerHarness forStub(URI trackUrl) throws Exception {
        return new WorkerHarness(trackUrl, 1000, 5, Duration.ofSeconds(5), 3);
    }

    public WorkerRuntime start() throws Exception {
        runtime = WorkerRuntime.start(settings, Clock.systemUTC());
        return runtime;
    }

    /** A further instance in the same consumer group, writing to the same audit table. */
    public WorkerRuntime startAnother(String instanceId) throws Exception {
        Settings other = new Settings(settings.kafka(), settings.database(), settings.customerIo(), settings.audit(),
                new Settings.Worker(instanceId, settings.worker().maxInFlight(), 0, settings.worker().retryDelays(),
                        settings.worker().maxParked(), false), List.of(), settings.workspaces());
        return WorkerRuntime.start(other, Clock.systemUTC());
    }

    public Settings.Database ownerDatabase() {
        return owner;
    }

    public WorkerRuntime runtime() {
        return runtime;
    }

    public void stop() {
        if (runtime != null) {
            runtime.close();
            runtime = null;
        }
    }

    public void send(byte[] key, byte[] value) throws Exception {
        producer.send(new ProducerRecord<>(topic, key, value)).get();
    }

    public void send(byte[] value) throws Exception {
        send(null, value);
    }

    /** Any record to any topic, headers included (what a producer other than the worker could write). */
    public void send(ProducerRecord<byte[], byte[]> record) throws Exception {
        producer.send(record).get();
    }

    public int count(String sql, Object... args) throws SQLException {
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    public int outcomes() throws SQLException {
        return count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME'");
    }

    /** Every audit row, as column → value maps, in chain order. */
    public List<Map<String, Object>> rows() throws SQLException {
        List<Map<String, Object>> out = new ArrayList<>();
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement("SELECT * FROM audit_event ORDER BY chain_seq");
             ResultSet rs = ps.executeQuery()) {
            int cols = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                Map<String, Object> row = new HashMap<>();
                for (int i = 1; i <= cols; i++) {
                    row.put(rs.getMetaData().getColumnName(i), rs.getObject(i));
                }
                out.add(row);
            }
        }
        return out;
    }

    /** Reads everything currently on the dead-letter topic. */
    public List<ConsumerRecord<byte[], byte[]>> deadLetters(int atLeast, Duration timeout) {
        return read(topic + ".dlq", atLeast, timeout);
    }

    /** Reads at least {@code atLeast} records of a topic from its beginning (or what is there by the timeout). */
    public List<ConsumerRecord<byte[], byte[]>> read(String name, int atLeast, Duration timeout) {
        return readUntil(name, records -> records.size() >= atLeast, timeout);
    }

    /** Reads a topic from its beginning until {@code enough} holds for what was read (or the timeout). */
    public List<ConsumerRecord<byte[], byte[]>> readUntil(String name, java.util.function.Predicate<List<ConsumerRecord<byte[], byte[]>>> enough,
                                                          Duration timeout) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (Consumer<byte[], byte[]> c = new KafkaClients(settings.kafka()).consumer("it-reader",
                Map.of(ConsumerConfig.GROUP_ID_CONFIG, "dlq-reader-" + UUID.randomUUID(), ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
            c.subscribe(List.of(name));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!enough.test(out) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    @Override
    public void close() {
        stop();
        producer.close();
    }
}
