package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.config.KafkaClientConfig;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.TrackPolicy;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.StatusTrack;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The consumer loop and its record decisions with Kafka's mock clients: no broker, a real audit
 * database. What each kind of record leads to (audit rows, dead letter, committed offset).
 */
class WorkerLoopWithoutBrokerIT {
    private static final String TOPIC = "erasure.requests.mock";
    private static final TopicPartition P0 = new TopicPartition(TOPIC, 0);
    private static final TopicPartition RETRY0 = new TopicPartition(TOPIC + ".retry", 0);

    private final Settings.Database database = TestInfra.freshDatabase();
    private final DataSource db = TestInfra.dataSource(database);
    private final MockConsumer<byte[], byte[]> consumer = new MockConsumer<>("earliest");
    private final MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
    private final StatusTrack track = new StatusTrack();
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private ErasureWorker worker;
    private Thread loop;

    @AfterEach
    void stop() throws Exception {
        if (worker != null) {
            worker.close();
            loop.join(10_000);
        }
    }

    @Test
    void eachKindOfRecordGetsItsOutcomeAndItsOffsetIsCommittedOnlyOnceDurable() throws Exception {
        start();
        track.status.set(200);
        offer(0, Messages.request("r-ok", "id", "mock-1"));
        offer(1, "{not json".getBytes(StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(20)).until(() -> committed(P0) == 2);
        assertThat(outcome("r-ok")).isEqualTo("COMPLETED");
        assertThat(rows("SELECT count(*) FROM audit_event WHERE outcome = 'REJECTED'")).isEqualTo(1);
        assertThat(producer.history()).extracting(ProducerRecord::topic).containsExactly(TOPIC + ".dlq");
        assertThat(track.calls.get()).as("suppress and destroy for the valid request only").isEqualTo(2);

        // Customer.io refuses the request for good (HTTP 400): FAILED and dead-lettered, never retried
        track.status.set(400);
        offer(2, Messages.request("r-bad", "id", "mock-2"));
        await().atMost(Duration.ofSeconds(20)).until(() -> committed(P0) == 3);
        assertThat(outcome("r-bad")).isEqualTo("FAILED");
        assertThat(producer.history()).extracting(ProducerRecord::topic).containsExactly(TOPIC + ".dlq", TOPIC + ".dlq");
        ProducerRecord<byte[], byte[]> deadLetter = producer.history().get(1);
        assertThat(new String(deadLetter.headers().lastHeader(TopicHeaders.REQUEST_ID).value(), StandardCharsets.UTF_8)).isEqualTo("r-bad");
        assertThat(new String(deadLetter.headers().lastHeader(TopicHeaders.ORIGINAL_OFFSET).value(), StandardCharsets.UTF_8)).isEqualTo("2");
    }

    @Test
    void aRequestAlreadyCompletedIsNotSentAgain() throws Exception {
        start();
        track.status.set(200);
        offer(0, Messages.request("r-twice", "id", "mock-3"));
        await().atMost(Duration.ofSeconds(20)).until(() -> committed(P0) == 1);
        offer(1, Messages.request("r-twice", "id", "mock-3"));
        await().atMost(Duration.ofSeconds(20)).until(() -> committed(P0) == 2);
        assertThat(track.calls.get()).isEqualTo(2);
        assertThat(rows("SELECT count(*) FROM audit_event WHERE request_id = 'r-twice' AND outcome = 'DUPLICATE'")).isEqualTo(1);
    }

    @Test
    void aRecordThatFailedUnexpectedlyIsHandedBackWhenItsPartitionGoesAndNotTriedAgainHere() throws Exception {
        start();
        track.status.set(StatusTrack.DEFECT);
        offer(0, Messages.request("r-defect", "id", "mock-4"));
        // it failed unexpectedly, and waits (parked) to be tried again
        await().atMost(Duration.ofSeconds(20)).until(() -> meters.get(MetricNames.RETRY_PARKED).gauge().value() == 1);
        long t0 = System.nanoTime();
        consumer.schedulePollTask(() -> consumer.rebalance(List.of(RETRY0)));
        await().atMost(Duration.ofSeconds(20)).until(() -> worker.assignedPartitions() == 1);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("the revocation handed the record back instead of waiting for it")
                .isLessThan(ErasureWorker.UNEXPECTED_RETRY);
        assertThat(meters.get(MetricNames.RETRY_PARKED).gauge().value()).isZero();
        int calls = track.calls.get();
        Thread.sleep(ErasureWorker.UNEXPECTED_RETRY.plusSeconds(2).toMillis());
        assertThat(track.calls.get()).as("not tried again by this instance once its partition went").isEqualTo(calls);
        assertThat(committed(P0)).as("not committed past it: the partition's next owner redoes it").isLessThanOrEqualTo(0);
    }

    private void start() {
        Settings s = new Settings(new Settings.Kafka("127.0.0.1:1", TOPIC, "mock-group", KafkaClientConfig.NONE), database,
                new Settings.CustomerIo("site", Secret.of("CUSTOMERIO_TRACK_API_KEY", "key"), Settings.Region.US,
                        URI.create("http://127.0.0.1:1"), 100, 1, Duration.ofSeconds(1), Duration.ofSeconds(1)),
                new Settings.Audit(Secret.of("AUDIT_SUBJECT_KEY", "mock-subject-key-0123456789")),
                new Settings.Worker("mock-worker", 8, 0), List.of());
        ErasureExecutor executor = new ErasureExecutor(track, new TrackPolicy(100, 1, Duration.ofMillis(10), Duration.ofMillis(10),
                Duration.ofSeconds(5), Duration.ofSeconds(5), 0, Duration.ofSeconds(2)), new SimpleMeterRegistry());
        consumer.updateBeginningOffsets(Map.of(P0, 0L, RETRY0, 0L));
        consumer.schedulePollTask(() -> consumer.rebalance(List.of(P0, RETRY0)));
        worker = WorkerRuntime.assemble(s, consumer, producer, executor, db, meters, Clock.systemUTC());
        loop = new Thread(worker, "mock-loop");
        loop.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> worker.assignedPartitions() == 2);
    }

    /** MockConsumer's methods are synchronized: the test thread may add records while the loop polls. */
    private void offer(long offset, byte[] value) {
        consumer.addRecord(new ConsumerRecord<>(TOPIC, 0, offset, "k".getBytes(StandardCharsets.UTF_8), value));
    }

    private long committed(TopicPartition tp) {
        OffsetAndMetadata o = consumer.committed(Set.of(tp)).get(tp);
        return o == null ? -1 : o.offset();
    }

    private String outcome(String requestId) throws Exception {
        try (Connection c = db.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT outcome FROM audit_event WHERE request_id = ? AND step = 'OUTCOME'")) {
            ps.setString(1, requestId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private int rows(String sql) throws Exception {
        try (Connection c = db.getConnection(); ResultSet rs = c.createStatement().executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
