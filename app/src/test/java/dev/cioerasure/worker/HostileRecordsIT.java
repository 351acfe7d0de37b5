package dev.cioerasure.worker;

import dev.cioerasure.kafka.TopicHeaders;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TestInfra;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testing.WorkerProcess;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;

/**
 * Records a careless or hostile producer can put on the topics: values and keys at the size
 * limit, headers in the worker's namespace, null and binary headers. None may stall a
 * partition, steer provenance, or break an operator command.
 */
class HostileRecordsIT {
    private static final String EMAIL = "jane.hostile@example.com";
    private WireMockServer track;
    private WorkerHarness h;
    private KafkaProducer<byte[], byte[]> bigProducer;

    @BeforeEach
    void setUp() throws Exception {
        track = TrackStubs.started();
        h = WorkerHarness.forStub(URI.create(track.baseUrl()));
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(8 * 1024 * 1024));
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        bigProducer = new KafkaProducer<>(p);
    }

    @AfterEach
    void tearDown() {
        bigProducer.close();
        h.close();
        track.stop();
    }

    private Map<String, String> env() {
        return Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(),
                "ERASURE_TOPIC", h.topic, "ERASURE_GROUP_ID", h.settings.kafka().groupId());
    }

    /**
     * A compression bomb: 300 MB of zeros is a batch of a few hundred KB in zstd, within any
     * topic's size limit, and Kafka's consumer decompresses each record into a buffer of its full
     * size. A worker whose heap is smaller died on it at every start (a stack trace, "ended
     * unexpectedly (no error)"), and so did every worker of the group that took the partition. It
     * now rejects that record at its coordinates and goes on: the request before it, read in the
     * same batch of fetches, and the one after it are erased.
     */
    @Test
    void aRecordThatExpandsBeyondTheHeapIsRejectedAndTheRecordsAroundItGoOn() throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers());
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(400_000_000));
        p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(800_000_000L));
        // on partition 2, the last a poll collects: what it collected from 0 and 1 before is lost with it
        bigProducer.send(new ProducerRecord<>(h.topic, 2, null, Messages.request("r-before-the-bomb", "email", "before.bomb@example.com")))
                .get();
        try (KafkaProducer<byte[], byte[]> bomb = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            assertThat(bomb.send(new ProducerRecord<>(h.topic, 2, null, new byte[300_000_000])).get().offset()).isEqualTo(1);
        }
        bigProducer.send(new ProducerRecord<>(h.topic, 2, null, Messages.request("r-behind-the-bomb", "email", "behind.bomb@example.com")))
                .get();
        for (int partition = 0; partition <= 1; partition++) {
            bigProducer.send(new ProducerRecord<>(h.topic, partition, null, Messages.request("r-beside-" + partition, "id",
                    "p-beside-" + partition))).get();
        }

        java.nio.file.Path log = java.nio.file.Files.createTempFile("bomb-worker", ".log");
        Process worker = WorkerProcess.start(h.settings, track.baseUrl(), 1000, Map.of(), log); // -Xmx256m
        try {
            await().atMost(Duration.ofSeconds(40)).until(() -> h.outcomes() == 5);
            assertThat(worker.isAlive()).isTrue();
            // the backlog's watcher reads the record at each committed offset too: it must survive the bomb and go on
            java.net.URI metrics = java.net.URI.create("http://localhost:" + metricsPort(log) + "/metrics");
            await().atMost(Duration.ofSeconds(40)).untilAsserted(() -> assertThat(scrape(metrics))
                    .contains("partition=\"2\",topic=\"" + h.topic + "\"} 0.0")
                    .contains("erasure_backlog_oldest_age_seconds{application=\"cio-erasure\"} 0.0"));
            worker.destroy();
            assertThat(worker.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        } finally {
            worker.destroyForcibly();
        }
        String said = java.nio.file.Files.readString(log);
        java.nio.file.Files.deleteIfExists(log);
        assertThat(worker.exitValue()).as(said).isZero();
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'"
                + " AND request_id IN ('r-before-the-bomb', 'r-behind-the-bomb', 'r-beside-0', 'r-beside-1')")).isEqualTo(4);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'REJECTED' AND kafka_partition = 2 AND kafka_offset = 1"
                + " AND reason LIKE 'OVERSIZE: record expands beyond the worker''s heap (% MiB); the limit is 16384 bytes'")).isEqualTo(1);
        assertThat(said).contains(h.topic + "-2@1 expands beyond the heap (", "rejected as OVERSIZE")
                .doesNotContain("Exception in thread", "\tat ");
        List<ConsumerRecord<byte[], byte[]>> dead = h.deadLetters(1, Duration.ofSeconds(10));
        assertThat(dead).singleElement().satisfies(d -> {
            assertThat(d.value()).isNull();
            assertThat(new String(d.headers().lastHeader("x-erasure-reason-code").value(), java.nio.charset.StandardCharsets.UTF_8))
                    .isEqualTo("OVERSIZE");
        });
        Cli.Run list = Cli.run(env(), "dlq", "list");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out()).contains(h.topic + "-2@1", "OVERSIZE: record expands beyond the worker's heap");
    }

    /**
     * The backlog's watcher reads the record at the group's offset of each partition for its
     * timestamp, and so holds its value: a record beyond the heap fails that poll. The error ended
     * the refresh's schedule, and every backlog gauge kept its last value for good (the worker
     * above read a backlog of 1, 1 and 3 and an age of NaN long after all was done). Now the
     * partition holding it is left out of the age until the group is past it; the others are dated.
     */
    @Test
    void theBacklogsAgeLeavesOutARecordBeyondTheHeapUntilTheGroupIsPastIt() throws Exception {
        long now = System.currentTimeMillis();
        TopicPartition bombed = new TopicPartition(h.topic, 2);
        bigProducer.send(new ProducerRecord<>(h.topic, 0, now - 600_000, null, Messages.request("r-ten-minutes", "id", "p-ten"))).get();
        bigProducer.send(new ProducerRecord<>(h.topic, 2, now - 3_600_000, null, "stands for the bomb".getBytes(StandardCharsets.UTF_8))).get();
        bigProducer.send(new ProducerRecord<>(h.topic, 2, now - 1_200_000, null, Messages.request("r-twenty-minutes", "id", "p-twenty"))).get();
        io.micrometer.core.instrument.simple.SimpleMeterRegistry meters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        java.util.function.Supplier<org.apache.kafka.clients.consumer.Consumer<byte[], byte[]>> peeks = () -> beyondTheHeapAt(bombed, 0,
                new dev.cioerasure.kafka.KafkaClients(h.settings.kafka()).consumer("backlog-peek-it",
                        Map.of(org.apache.kafka.clients.consumer.ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1)));
        try (LogCapture logs = LogCapture.capture();
             BacklogMonitor monitor = new BacklogMonitor(h.settings.kafka(), "it", meters, java.time.Clock.systemUTC(), peeks)) {
            monitor.refresh();
            assertThat(meters.get(dev.cioerasure.metrics.MetricNames.BACKLOG_OLDEST_AGE).gauge().value()).isBetween(600.0, 700.0);
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("the record at " + h.topic + "-2@0 expands beyond the heap"));
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
                admin.alterConsumerGroupOffsets(h.settings.kafka().groupId(), Map.of(bombed, new OffsetAndMetadata(1))).all().get();
            }
            monitor.refresh(); // the group is past it: the request behind it is the oldest
            assertThat(meters.get(dev.cioerasure.metrics.MetricNames.BACKLOG_OLDEST_AGE).gauge().value()).isBetween(1200.0, 1300.0);
        }
    }

    /**
     * A consumer that fails as Kafka's does on a record that expands beyond the heap: every poll
     * that would read {@code tp} at {@code offset} throws OutOfMemoryError (the real one needs a
     * JVM of its own, as above).
     */
    @SuppressWarnings("unchecked")
    private static org.apache.kafka.clients.consumer.Consumer<byte[], byte[]> beyondTheHeapAt(TopicPartition tp, long offset,
            org.apache.kafka.clients.consumer.Consumer<byte[], byte[]> real) {
        return (org.apache.kafka.clients.consumer.Consumer<byte[], byte[]>) java.lang.reflect.Proxy.newProxyInstance(
                HostileRecordsIT.class.getClassLoader(), new Class<?>[] {org.apache.kafka.clients.consumer.Consumer.class}, (proxy, method, args) -> {
                    if (method.getName().equals("poll") && real.assignment().contains(tp) && !real.paused().contains(tp)
                            && real.position(tp) == offset) {
                        throw new OutOfMemoryError("Java heap space");
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static int metricsPort(java.nio.file.Path log) throws Exception {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("metrics and health on http://localhost:(\\d+)/metrics").matcher(java.nio.file.Files.readString(log));
        assertThat(m.find()).as("the worker's log names its metrics port").isTrue();
        return Integer.parseInt(m.group(1));
    }

    private static String scrape(java.net.URI uri) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(uri).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    /** Waits until the worker's backlog gauge, refreshed, reads {@code expected}. */
    private void awaitBacklogGauge(String name, double expected) {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            h.runtime().worker().refreshBacklog();
            assertThat(h.runtime().meters().get(name).gauge().value()).isEqualTo(expected);
        });
    }

    /** A producer with a transactional id of its own, its transactions initialised. */
    private static KafkaProducer<byte[], byte[]> transactional(String idPrefix) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, idPrefix + "-" + java.util.UUID.randomUUID());
        KafkaProducer<byte[], byte[]> tx = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
        tx.initTransactions();
        return tx;
    }

    private void sendRaw(String topic, byte[] key, byte[] value, RecordHeader... headers) throws Exception {
        bigProducer.send(new ProducerRecord<>(topic, 0, key, value, Arrays.asList(headers))).get();
    }

    private static byte[] filled(int size, char c) {
        byte[] b = new byte[size];
        Arrays.fill(b, (byte) c);
        return b;
    }

    @Test
    void recordsTooLargeToDeadLetterWholeAreCutAndNothingBehindThemWaits() throws Exception {
        // The request topic takes records larger than the worker's producer may send (1 MiB):
        // a producer max.request.size below the broker's limit.
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
            admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, h.topic), List.of(
                    new AlterConfigOp(new ConfigEntry(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, "3000000"), AlterConfigOp.OpType.SET))))
                    .all().get();
        }
        h.worker(2, Duration.ofMinutes(10));
        // A value just under the broker's default limit: the copy plus headers is over it.
        sendRaw(h.topic, "k1".getBytes(StandardCharsets.UTF_8), filled(1_048_576 - 120, 'x'));
        // A key at the limit with a small, malformed value.
        sendRaw(h.topic, filled(1_048_426, 'k'), "{}".getBytes(StandardCharsets.UTF_8));
        // A 2 MB value: the broker's topic takes it, the worker's producer cannot send it whole.
        // (The broker applies the topic's new limit a moment after the change was accepted; until
        // then it refuses the record whole, writing nothing, so sending it again is safe.)
        await().atMost(Duration.ofSeconds(30)).ignoreExceptionsMatching(e -> e.getCause() instanceof RecordTooLargeException)
                .until(() -> {
                    sendRaw(h.topic, "k3".getBytes(StandardCharsets.UTF_8), filled(2_000_000, 'y'));
                    return true;
                });
        // ...and a valid request behind them on the same partition.
        sendRaw(h.topic, "k4".getBytes(StandardCharsets.UTF_8), Messages.request("r-behind", "id", "p-behind"));
        h.start();

        await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 4);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'REJECTED'")).isEqualTo(3);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-behind' AND outcome = 'COMPLETED'")).isEqualTo(1);

        List<ConsumerRecord<byte[], byte[]>> dlq = h.deadLetters(3, Duration.ofSeconds(30));
        assertThat(dlq).hasSize(3).allSatisfy(r -> {
            assertThat(r.value()).as("value dropped").isNull();
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.CUT)).isPresent();
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.ORIGINAL_VALUE_SHA256)).isPresent();
            assertThat(TopicHeaders.Origin.of(r.headers())).hasValueSatisfying(o -> assertThat(o.topic()).isEqualTo(h.topic));
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.REASON_CODE)).isPresent();
        });
        assertThat(dlq).anySatisfy(r -> {
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.CUT)).contains("key,value");
            assertThat(r.key()).hasSize(64);
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.ORIGINAL_KEY_SIZE)).contains("1048426");
        });
        assertThat(dlq).anySatisfy(r -> assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.ORIGINAL_VALUE_SIZE)).contains("2000000"));

        // The partition's committed offset moves past all of them.
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(h.settings.kafka().groupId())
                        .partitionsToOffsetAndMetadata().get();
                OffsetAndMetadata o = committed.get(new TopicPartition(h.topic, 0));
                return o != null && o.offset() == 4;
            });
        }
        assertThat(h.runtime().worker().oldestInFlight()).isEqualTo(Duration.ZERO);
        assertThat(h.runtime().worker().isReady()).isTrue();
        assertThat(h.runtime().meters().find("erasure.republish.cut").tag("topic", "dlq").counter().count()).isEqualTo(3);

        Cli.Run list = Cli.run(env(), "dlq", "list");
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains("3 record(s)", "cut copy", h.topic + "-0@0", h.topic + "-0@2");
    }

    /**
     * A transactional producer (a stream processor, an outbox relay) that aborts takes its
     * requests back. With Kafka's default read_uncommitted the worker erased those people anyway.
     */
    @Test
    void aRequestWhoseTransactionWasAbortedIsNeverErased() throws Exception {
        try (KafkaProducer<byte[], byte[]> tx = transactional("hostile")) {
            tx.beginTransaction();
            tx.send(new ProducerRecord<>(h.topic, 0, "k".getBytes(StandardCharsets.UTF_8),
                    Messages.request("r-aborted", "id", "p-aborted"))).get();
            tx.flush();
            tx.abortTransaction();
            tx.beginTransaction();
            tx.send(new ProducerRecord<>(h.topic, 0, "k".getBytes(StandardCharsets.UTF_8),
                    Messages.request("r-committed", "id", "p-committed"))).get();
            tx.commitTransaction();
        }
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-committed' AND outcome = 'COMPLETED'") == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-aborted'")).isZero();
        // the committed offset stops at the commit marker: nothing waits there, and the age says 0 (it read NaN)
        awaitBacklogGauge("erasure.backlog.oldest.age.seconds", 0);
        assertThat(track.findAll(com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(".*p-aborted.*")))).as("nobody called about it").isEmpty();
    }

    /**
     * A transactional producer that opens a transaction and hangs: no consumer reading committed
     * records gets past it, so the requests written after it wait, and the backlog's age said 0
     * (nothing past that offset can be read). The records it holds are now a gauge of their own,
     * with an alert; once it ends (here: aborted), the request behind it is erased.
     */
    @Test
    void requestsBehindATransactionLeftOpenAreCountedUntilItEnds() throws Exception {
        try (KafkaProducer<byte[], byte[]> tx = transactional("hanging")) {
            tx.beginTransaction();
            tx.send(new ProducerRecord<>(h.topic, 0, "k".getBytes(StandardCharsets.UTF_8), Messages.request("r-open", "id", "p-open"))).get();
            sendRaw(h.topic, null, Messages.request("r-behind-the-open-one", "id", "p-behind"));
            h.start();
            awaitBacklogGauge("erasure.backlog.uncommitted", 2);
            assertThat(h.runtime().meters().get("erasure.backlog.oldest.age.seconds").gauge().value()).as("what it said alone").isZero();
            assertThat(h.outcomes()).isZero();
            tx.abortTransaction();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-behind-the-open-one' AND outcome = 'COMPLETED'") == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-open'")).isZero();
        awaitBacklogGauge("erasure.backlog.uncommitted", 0);
    }

    /**
     * Requests the topic's retention deleted while the group was stopped: with the consumer's
     * automatic reset to earliest the worker went on from what was left without a word, and those
     * requests had no audit row at all. The gap is now logged with its offsets and counted.
     */
    @Test
    void requestsTheRetentionDeletedBeforeTheGroupReachedThemAreSaidAndCounted() throws Exception {
        for (int i = 0; i < 5; i++) {
            sendRaw(h.topic, ("k" + i).getBytes(StandardCharsets.UTF_8), Messages.request("r-kept-" + i, "id", "p-kept-" + i));
        }
        TopicPartition p0 = new TopicPartition(h.topic, 0);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
            // the group had done offsets 0 and 1 when it stopped; the retention then deleted everything before 4
            admin.alterConsumerGroupOffsets(h.settings.kafka().groupId(), Map.of(p0, new OffsetAndMetadata(2))).all().get();
            admin.deleteRecords(Map.of(p0, org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(4))).all().get();
        }
        try (LogCapture logs = LogCapture.capture()) {
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                    "SELECT count(*) FROM audit_event WHERE request_id = 'r-kept-4' AND outcome = 'COMPLETED'") == 1);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id IN ('r-kept-2', 'r-kept-3')")).isZero();
            assertThat(h.runtime().meters().get("erasure.requests.expired").tag("topic", h.topic).counter().count()).isEqualTo(2);
            assertThat(h.runtime().meters().get("erasure.requests.expired").tag("topic", h.topic + ".retry").counter().count())
                    .as("exported at 0").isZero();
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("2 offset(s) of " + p0 + ", 2 to 3, were deleted by the"
                    + " topic's retention before this group processed them: requests that were not erased and have no audit row;"
                    + " resubmit them from their source"));
        }
    }

    /**
     * An operator "skips the backlog" with kafka-consumer-groups --reset-offsets, or runs a console
     * consumer with the worker's group id: the group's offset moves past requests no worker saw.
     * The worker went on from the new offset without a word; those requests had no erasure and no
     * audit row. Now it compares the offset it is assigned with the partition's last outcome row,
     * and names the gap, counts it, and says how to process it; its own commits never trip it.
     */
    @Test
    void requestsTheGroupsOffsetWasMovedPastAreSaidAndCountedAndTheWorkersOwnCommitsAreNot() throws Exception {
        TopicPartition p0 = new TopicPartition(h.topic, 0);
        for (int i = 0; i < 2; i++) {
            sendRaw(h.topic, null, Messages.request("r-seen-" + i, "id", "p-seen-" + i));
        }
        sendRaw(h.topic, null, Messages.request("r-seen-other-partition", "id", "p-seen-o")); // partition 0 too; 1 and 2 stay empty
        try (LogCapture logs = LogCapture.capture()) {
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 3);
            h.stop(); // commits 3 on partition 0: its own commit, at the last outcome row plus one
            for (int i = 0; i < 3; i++) {
                sendRaw(h.topic, null, Messages.request("r-skipped-" + i, "id", "p-skipped-" + i)); // offsets 3, 4, 5
            }
            sendRaw(h.topic, null, Messages.request("r-after-the-reset", "id", "p-after")); // offset 6
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
                assertThat(admin.listConsumerGroupOffsets(h.settings.kafka().groupId()).partitionsToOffsetAndMetadata().get().get(p0).offset())
                        .isEqualTo(3);
                admin.alterConsumerGroupOffsets(h.settings.kafka().groupId(), Map.of(p0, new OffsetAndMetadata(6))).all().get();
            }
            assertThat(logs.lines()).noneSatisfy(l -> assertThat(l).contains("without an outcome row"));
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                    "SELECT count(*) FROM audit_event WHERE request_id = 'r-after-the-reset' AND outcome = 'COMPLETED'") == 1);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id LIKE 'r-skipped-%'")).isZero();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(h.runtime().meters().get("erasure.requests.skipped").tag("topic", h.topic).counter().count()).isEqualTo(3));
            assertThat(logs.lines()).filteredOn(l -> l.contains("without an outcome row")).singleElement().satisfies(l -> assertThat(l)
                    .contains("3 offset(s) of " + p0 + ", 3 to 5, were passed by group " + h.settings.kafka().groupId()
                            + "'s committed offset 6 without an outcome row: requests among them were not erased",
                            "kafka-consumer-groups --bootstrap-server " + h.settings.kafka().bootstrapServers() + " --group "
                                    + h.settings.kafka().groupId() + " --reset-offsets --topic " + h.topic + ":0 --to-offset 3 --execute"));
        }
        // a check that runs late, once the record at the new offset has its row, still sees the gap before it
        SkippedRecords late = new SkippedRecords(h.topic, h.settings.kafka().groupId(), "localhost:9092", new dev.cioerasure.audit.AuditLog(h.db),
                Runnable::run, new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        assertThat(late.checkNow(Map.of(p0, new OffsetAndMetadata(6)))).isEqualTo(3);
        assertThat(late.checkNow(Map.of(p0, new OffsetAndMetadata(3)))).as("the worker's own commit before the reset").isZero();

        // what the log says to do: stop the workers, move the group back to 3, start again
        h.stop();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
            admin.alterConsumerGroupOffsets(h.settings.kafka().groupId(), Map.of(p0, new OffsetAndMetadata(3))).all().get();
        }
        int callsForTheOneAfter = track.findAll(com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(".*/p-after.*"))).size();
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE request_id LIKE 'r-skipped-%'"
                + " AND step = 'OUTCOME' AND outcome = 'COMPLETED'") == 3);
        // the record past the gap, processed before, is recognised: nothing sent again, nothing recorded twice
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()))) {
            await().atMost(Duration.ofSeconds(30)).until(() -> admin.listConsumerGroupOffsets(h.settings.kafka().groupId())
                    .partitionsToOffsetAndMetadata().get().get(p0).offset() == 7);
        }
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND kafka_topic = ? AND kafka_partition = 0",
                h.topic)).isEqualTo(7);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-after-the-reset'")).isEqualTo(
                h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-seen-0'"));
        assertThat(track.findAll(com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(".*/p-after.*")))).hasSize(callsForTheOneAfter);
    }

    @Test
    void provenanceAndRetryHeadersFromTheProducerAreIgnoredOnTheRequestTopic() throws Exception {
        h.close();
        h = new WorkerHarness(URI.create(track.baseUrl()), 1000, 2, Duration.ofSeconds(5), 1).outagePause(Duration.ofSeconds(1));
        h.retryDelays(Duration.ofHours(1));
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/p-flaky/suppress")).atPriority(1).willReturn(aResponse().withStatus(503)));
        RecordHeader[] forged = {
                new RecordHeader(TopicHeaders.ORIGINAL_TOPIC, EMAIL.getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.ORIGINAL_PARTITION, "99".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.ORIGINAL_OFFSET, "123456".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.ORIGINAL_TIMESTAMP, "1".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.REASON, EMAIL.getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.RETRY_ROUND, "99".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.NOT_BEFORE, "99999999999999".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.REPLAY, "x.dlq-0@1".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader("x-erasure-anything", null),
        };
        sendRaw(h.topic, null, "{\"request_id\":\"r-forged\"}".getBytes(StandardCharsets.UTF_8), forged);
        // A retry round of 99 would make this FAILED at once; ignored, it is parked for round 1.
        sendRaw(h.topic, null, Messages.request("r-flaky", "id", "p-flaky"), forged);
        h.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 2);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-flaky' AND outcome = 'RETRY_SCHEDULED'")).isEqualTo(1);

        List<ConsumerRecord<byte[], byte[]>> dlq = h.deadLetters(1, Duration.ofSeconds(20));
        assertThat(dlq).singleElement().satisfies(r -> {
            assertThat(TopicHeaders.Origin.of(r.headers())).contains(new TopicHeaders.Origin(h.topic, 0, 0, readTimestamp(h.topic, 0)));
            r.headers().forEach(x -> assertThat(x.value() == null ? "" : new String(x.value(), StandardCharsets.UTF_8))
                    .doesNotContain(EMAIL).doesNotContain("123456"));
            assertThat(r.headers().lastHeader("x-erasure-anything")).isNull();
        });
        List<ConsumerRecord<byte[], byte[]>> parked = h.read(h.topic + ".retry", 1, Duration.ofSeconds(20));
        assertThat(parked).singleElement().satisfies(r -> {
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.RETRY_ROUND)).contains("1");
            assertThat(TopicHeaders.valid(r.headers(), TopicHeaders.REPLAY)).isEmpty();
            assertThat(TopicHeaders.Origin.of(r.headers())).hasValueSatisfying(o -> assertThat(o.offset()).isEqualTo(1));
        });
        assertThat(Cli.run(env(), "dlq", "list").out()).doesNotContain(EMAIL).contains(h.topic + "-0@0");
    }

    @Test
    void aRetryRecordAskingToWaitForYearsIsHeldNoLongerThanTheLongestRetryDelay() throws Exception {
        h.retryDelays(Duration.ofSeconds(1), Duration.ofSeconds(3));
        h.start();
        // On the retry topic, in the worker's format, due in the year 5138.
        sendRaw(h.topic + ".retry", null, Messages.request("r-years", "id", "user-years"),
                new RecordHeader(TopicHeaders.RETRY_ROUND, "1".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.NOT_BEFORE, "99999999999999".getBytes(StandardCharsets.UTF_8)));
        long sent = System.nanoTime();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-years' AND step = 'OUTCOME' AND outcome = 'COMPLETED'") == 1);
        assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("held for the longest retry delay (3 s), not until its time")
                .isGreaterThanOrEqualTo(Duration.ofMillis(2500));
    }

    @Test
    void operatorCommandsCopeWithAnyHeaderAndPrintOnlyWhatTheWorkerWrites() throws Exception {
        RecordHeader[] junk = {
                new RecordHeader(TopicHeaders.REASON_CODE, null),
                new RecordHeader(TopicHeaders.REQUEST_ID, new byte[] {(byte) 0xff, 0x00, (byte) 0xfe}),
                new RecordHeader(TopicHeaders.REASON, ("\u001b[31m" + EMAIL).getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.ORIGINAL_TOPIC, EMAIL.getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.ORIGINAL_PARTITION, new byte[0]),
                new RecordHeader(TopicHeaders.ORIGINAL_OFFSET, "1".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.ORIGINAL_OFFSET, "not-a-number".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.NOT_BEFORE, "soon".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader(TopicHeaders.RETRY_ROUND, null),
                new RecordHeader(TopicHeaders.CUT, null),
        };
        sendRaw(h.topic + ".dlq", null, "{}".getBytes(StandardCharsets.UTF_8), junk);
        sendRaw(h.topic + ".dlq", null, null);
        sendRaw(h.topic + ".retry", null, "{}".getBytes(StandardCharsets.UTF_8), junk);

        Cli.Run list = Cli.run(env(), "dlq", "list");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.out()).contains("2 record(s)").doesNotContain(EMAIL).doesNotContain("\u001b").doesNotContain("not-a-number");
        Cli.Run parked = Cli.run(env(), "parked", "--all");
        assertThat(parked.exit()).as(parked.err()).isZero();
        assertThat(parked.out()).contains("1 parked record(s)").doesNotContain(EMAIL).doesNotContain("\u001b");
        Cli.Run dry = Cli.run(env(), "dlq", "replay", "--all", "--dry-run");
        assertThat(dry.exit()).as(dry.err()).isZero();
        assertThat(dry.out() + dry.err()).doesNotContain(EMAIL);
    }

    private long readTimestamp(String topic, long offset) {
        return h.read(topic, 1, Duration.ofSeconds(10)).stream().filter(r -> r.offset() == offset).findFirst().orElseThrow().timestamp();
    }

    @Test
    void aRecordStuckInFlightShowsInTheGaugeAndTurnsReadinessDown() throws Exception {
        h.close();
        h = new WorkerHarness(URI.create(track.baseUrl()), 1000, 1, Duration.ofSeconds(20), 1).worker(2, Duration.ofSeconds(2));
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/p-slow/suppress")).atPriority(1)
                .willReturn(aResponse().withStatus(200).withBody("{}").withFixedDelay(8000)));
        h.send(Messages.request("r-slow", "id", "p-slow"));
        h.start();
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        java.net.http.HttpRequest ready = java.net.http.HttpRequest.newBuilder(
                URI.create("http://localhost:" + h.runtime().metricsPort() + "/health/ready")).build();
        await().atMost(Duration.ofSeconds(20)).until(() -> h.runtime().worker().oldestInFlight().toSeconds() >= 3);
        java.net.http.HttpResponse<String> down = http.send(ready, java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(down.statusCode()).isEqualTo(503);
        assertThat(down.body()).contains("in flight for", "ERASURE_STALL_AFTER", "no progress");
        String scrape = http.send(java.net.http.HttpRequest.newBuilder(URI.create("http://localhost:" + h.runtime().metricsPort()
                + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertThat(scrape).containsPattern("(?m)^erasure_in_flight_oldest_age_seconds\\{[^}]*\\} [3-9]");
        assertThat(scrape).containsPattern("(?m)^erasure_ready\\{[^}]*\\} 0");
        // once the record finishes, the worker is ready again
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> http.send(ready, java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        assertThat(h.runtime().worker().oldestInFlight()).isEqualTo(Duration.ZERO);
    }
}
