package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditSink;
import dev.cioerasure.audit.FinalOutcomes;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.TrackPolicy;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.request.RequestParser;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.StatusTrack;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What each kind of record is decided into (audit rows, dead letter, retry round): no broker, no database. */
class RecordProcessorTest {
    private static final String TOPIC = "erasure.requests";

    private final List<AuditEvent> rows = new CopyOnWriteArrayList<>();
    private final Map<String, Outcome> finals = new ConcurrentHashMap<>();
    private final AuditSink sink = batch -> {
        rows.addAll(batch);
        batch.stream().filter(e -> e.outcome() == Outcome.COMPLETED || e.outcome() == Outcome.FAILED)
                .forEach(e -> finals.put(e.requestId(), e.outcome()));
        return CompletableFuture.completedFuture(null);
    };
    private final FinalOutcomes lookup = id -> Optional.ofNullable(finals.get(id));
    private final MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
    private final StatusTrack track = new StatusTrack();
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private final RecordProcessor processor = new RecordProcessor(new RequestParser(Clock.systemUTC()),
            new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
            new ErasureExecutor(track, new TrackPolicy(1000, 1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(30),
                    Duration.ofSeconds(30), 0, Duration.ofSeconds(2)), new SimpleMeterRegistry()),
            sink, lookup, new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
            List.of(Duration.ofMinutes(1)), pool, new SimpleMeterRegistry(), Clock.systemUTC());

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    private void process(long offset, byte[] value) throws Exception {
        processor.process(new ConsumerRecord<>(TOPIC, 0, offset, "k".getBytes(StandardCharsets.UTF_8), value)).get(10, TimeUnit.SECONDS);
    }

    private List<String> stepsOf(String requestId) {
        return rows.stream().filter(r -> requestId.equals(r.requestId())).map(r -> r.step() + " " + r.outcome()).toList();
    }

    @Test
    void aValidRequestIsSuppressedThenDestroyedThenCompleted() throws Exception {
        process(0, Messages.request("r-1", "id", "person-1"));
        assertThat(stepsOf("r-1")).containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "OUTCOME COMPLETED",
                "VERIFY UNVERIFIABLE");
        assertThat(rows.get(3).reason()).as("without an App API key the VERIFY row says why nothing was checked")
                .contains("no App API key configured (CUSTOMERIO_APP_API_KEY)");
        assertThat(track.calls).hasValue(2);
        assertThat(producer.history()).isEmpty();
        assertThat(rows.toString()).as("no field of any row carries the identifier").doesNotContain("person-1");
        assertThat(rows).extracting(AuditEvent::subjectHash)
                .containsOnly(new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")).hash(
                        dev.cioerasure.request.Identifier.id("person-1")));
    }

    @Test
    void aCompletedRequestSeenAgainIsADuplicateAndCallsNobody() throws Exception {
        process(0, Messages.request("r-2", "id", "person-2"));
        process(1, Messages.request("r-2", "id", "person-2"));
        assertThat(stepsOf("r-2")).containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "OUTCOME COMPLETED",
                "VERIFY UNVERIFIABLE", "OUTCOME DUPLICATE");
        assertThat(track.calls).hasValue(2);
    }

    @Test
    void anInvalidMessageIsRejectedAndDeadLetteredWithoutACall() throws Exception {
        process(0, "{\"request_id\":\"r-3\"".getBytes(StandardCharsets.UTF_8));
        assertThat(rows).extracting(r -> r.outcome()).containsExactly(Outcome.REJECTED);
        assertThat(producer.history()).extracting(ProducerRecord::topic).containsExactly(TOPIC + ".dlq");
        assertThat(track.calls).hasValue(0);
    }

    @Test
    void aPermanentRefusalFailsAtOnceAndATransientOneGoesToTheNextRetryRound() throws Exception {
        track.status.set(400);
        process(0, Messages.request("r-4", "id", "person-4"));
        assertThat(stepsOf("r-4")).containsExactly("SUPPRESS FAILED", "OUTCOME FAILED");
        ProducerRecord<byte[], byte[]> dead = producer.history().get(0);
        assertThat(dead.topic()).isEqualTo(TOPIC + ".dlq");
        assertThat(new String(dead.headers().lastHeader(TopicHeaders.REQUEST_ID).value(), StandardCharsets.UTF_8)).isEqualTo("r-4");

        track.status.set(503);
        process(1, Messages.request("r-5", "id", "person-5"));
        assertThat(stepsOf("r-5")).containsExactly("SUPPRESS FAILED", "OUTCOME RETRY_SCHEDULED");
        ProducerRecord<byte[], byte[]> parked = producer.history().get(1);
        assertThat(parked.topic()).isEqualTo(TOPIC + ".retry");
        assertThat(new String(parked.headers().lastHeader(TopicHeaders.RETRY_ROUND).value(), StandardCharsets.UTF_8)).isEqualTo("1");
    }

    @Test
    void withAnAppApiKeyACompletedRequestGoesToTheVerificationTopicAfterItsRows() throws Exception {
        Settings.Verification on = new Settings.Verification(Secret.of("CUSTOMERIO_APP_API_KEY", "app-key"), null, 10,
                Duration.ofSeconds(30), Duration.ofHours(2));
        Republisher republisher = new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", TOPIC + ".verify", "unit",
                new SimpleMeterRegistry());
        RecordProcessor verifying = new RecordProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
                new ErasureExecutor(track, new TrackPolicy(1000, 1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(30),
                        Duration.ofSeconds(30), 0, Duration.ofSeconds(2)), new SimpleMeterRegistry()),
                sink, lookup, republisher, List.of(Duration.ofMinutes(1)), on, new OutcomeEvents(republisher, TOPIC + ".outcomes"), pool,
                new SimpleMeterRegistry(), Clock.systemUTC());
        long before = System.currentTimeMillis();
        verifying.process(new ConsumerRecord<>(TOPIC, 0, 7, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-6", "email", "six@example.com"))).get(10, TimeUnit.SECONDS);

        assertThat(stepsOf("r-6")).as("the VERIFY row comes later, from the checks")
                .containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "OUTCOME COMPLETED");
        assertThat(sentTo(TOPIC + ".verify")).hasSize(1);
        ProducerRecord<byte[], byte[]> task = sentTo(TOPIC + ".verify").get(0);
        assertThat(task.topic()).isEqualTo(TOPIC + ".verify");
        assertThat(task.value()).as("the check needs the request").isEqualTo(Messages.request("r-6", "email", "six@example.com"));
        assertThat(header(task, TopicHeaders.REQUEST_ID)).isEqualTo("r-6");
        assertThat(header(task, TopicHeaders.VERIFY_CHECKS)).isEqualTo("0");
        assertThat(header(task, TopicHeaders.VERIFY_LAST)).isEqualTo("none");
        assertThat(Long.parseLong(header(task, TopicHeaders.NOT_BEFORE))).isBetween(before + 30_000, System.currentTimeMillis() + 30_000);
        assertThat(Long.parseLong(header(task, TopicHeaders.VERIFY_DEADLINE)))
                .isBetween(before + 7_200_000, System.currentTimeMillis() + 7_200_000);
        assertThat(header(task, TopicHeaders.ORIGINAL_OFFSET)).isEqualTo("7");

        // Seen again (a replay after a crash between the rows and this record): verified again, not lost.
        verifying.process(new ConsumerRecord<>(TOPIC, 0, 8, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-6", "email", "six@example.com"))).get(10, TimeUnit.SECONDS);
        assertThat(stepsOf("r-6")).endsWith("OUTCOME DUPLICATE");
        assertThat(sentTo(TOPIC + ".verify")).hasSize(2);
        assertThat(sentTo(TOPIC + ".outcomes")).as("COMPLETED announced, then again when seen again (at least once)")
                .extracting(r -> new String(r.key(), StandardCharsets.UTF_8) + " " + new String(r.value(), StandardCharsets.UTF_8))
                .hasSize(2).allMatch(e -> e.startsWith("r-6 {") && e.contains("\"event\":\"outcome\",\"outcome\":\"COMPLETED\"")
                        && !e.contains("six@example.com"));
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(0).value(), StandardCharsets.UTF_8)).contains("\"on_time\":true");
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(1).value(), StandardCharsets.UTF_8))
                .as("a repeat says so, and says nothing about the deadline (its time is when it was seen again)")
                .contains("announced again").doesNotContain("on_time");
    }

    private List<ProducerRecord<byte[], byte[]>> sentTo(String topic) {
        return producer.history().stream().filter(r -> r.topic().equals(topic)).toList();
    }

    private static String header(ProducerRecord<byte[], byte[]> r, String key) {
        return new String(r.headers().lastHeader(key).value(), StandardCharsets.UTF_8);
    }
}
