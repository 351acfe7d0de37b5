package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditSink;
import dev.cioerasure.audit.FinalOutcomes;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.TrackPolicy;
import dev.cioerasure.erasure.Workspaces;
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
    private final AuditSink sink = batch -> {
        rows.addAll(batch);
        return CompletableFuture.completedFuture(null);
    };
    /** As the database answers: the final outcome, and the workspaces with a WORKSPACE SUCCEEDED row. */
    private final FinalOutcomes lookup = new FinalOutcomes() {
        @Override
        public Optional<Outcome> finalOutcome(String id) {
            return rows.stream().filter(r -> id.equals(r.requestId()) && r.step() == Step.OUTCOME
                            && (r.outcome() == Outcome.COMPLETED || r.outcome() == Outcome.FAILED))
                    .map(AuditEvent::outcome).min(java.util.Comparator.naturalOrder());
        }

        @Override
        public Standing standing(String id) {
            return new Standing(finalOutcome(id), workspacesWith(id, Step.WORKSPACE, Outcome.SUCCEEDED),
                    workspacesWith(id, Step.SUPPRESS, Outcome.SUCCEEDED), rows.stream().filter(r -> id.equals(r.requestId())
                            && r.step() == Step.OUTCOME && r.source() != null).map(r -> r.source().toString())
                            .collect(java.util.stream.Collectors.toSet()), rows.stream().filter(r -> id.equals(r.requestId())
                            && r.step() == Step.OUTCOME && (r.outcome() == Outcome.COMPLETED || r.outcome() == Outcome.FAILED))
                            .map(AuditEvent::subjectHash).collect(java.util.stream.Collectors.toSet()));
        }

        private java.util.Set<String> workspacesWith(String id, Step step, Outcome outcome) {
            return rows.stream().filter(r -> id.equals(r.requestId()) && r.step() == step && r.outcome() == outcome)
                    .map(AuditEvent::workspace).collect(java.util.stream.Collectors.toSet());
        }
    };
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

    /** Look-ups the test answers itself (each one's future from {@code answer}); one waited for is a failure. */
    private static FinalOutcomes held(java.util.function.Function<String, CompletableFuture<FinalOutcomes.Standing>> answer) {
        return new FinalOutcomes() {
            @Override
            public Optional<Outcome> finalOutcome(String id) {
                throw new AssertionError("a look-up waited for");
            }

            @Override
            public CompletableFuture<Standing> standingAsync(String id) {
                return answer.apply(id);
            }
        };
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
        assertThat(stepsOf("r-1")).as("the outcome, then what is known of its verification").containsExactly("SUPPRESS SUCCEEDED",
                "DESTROY SUCCEEDED", "WORKSPACE SUCCEEDED", "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE");
        assertThat(rows).extracting(AuditEvent::workspace).as("the workspace of the steps; none on the request's own outcome")
                .containsExactly("default", "default", "default", null, "default");
        assertThat(rows.get(4).reason()).as("without an App API key the VERIFY row says why nothing was checked")
                .contains("no App API key configured (CUSTOMERIO_APP_API_KEY or the workspace's app_api_key_file)");
        assertThat(track.calls).hasValue(2);
        assertThat(producer.history()).isEmpty();
        assertThat(rows.toString()).as("no field of any row carries the identifier").doesNotContain("person-1");
        assertThat(rows).extracting(AuditEvent::subjectHash)
                .containsOnly(new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")).hash(
                        dev.cioerasure.request.Identifier.id("person-1")));
    }

    /**
     * One ticket reused for a second person (or a second address of the same one), submitted later:
     * it was recorded DUPLICATE, nothing was sent, and the request id read COMPLETED everywhere, so
     * nobody saw that the second identifier was never erased. It is rejected now, dead-lettered
     * with its own reason code, its row carrying its own subject; a real copy is still a DUPLICATE.
     */
    @Test
    void aRequestIdCompletedForAnotherIdentifierIsRejectedNotADuplicate() throws Exception {
        process(0, Messages.request("ticket-1", "email", "jane@home.example"));
        process(1, Messages.request("ticket-1", "email", "jane@work.example"));
        process(2, Messages.request("ticket-1", "email", "jane@home.example"));
        assertThat(stepsOf("ticket-1")).containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "WORKSPACE SUCCEEDED",
                "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE", "OUTCOME REJECTED", "OUTCOME DUPLICATE");
        assertThat(track.calls).as("nothing sent for the second identifier").hasValue(2);
        AuditEvent rejected = rows.get(5);
        assertThat(rejected.reason()).isEqualTo("REQUEST_ID_REUSED: the request id already has outcome COMPLETED for another identifier;"
                + " this one was not erased: submit it under a request id of its own");
        assertThat(rejected.subjectHash()).as("the row is the second identifier's, so audit find finds it")
                .isEqualTo(new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123"))
                        .hash(dev.cioerasure.request.Identifier.email("jane@work.example")))
                .isNotEqualTo(rows.get(3).subjectHash());
        assertThat(producer.history()).singleElement().satisfies(dlq -> {
            assertThat(dlq.topic()).isEqualTo(TOPIC + ".dlq");
            assertThat(new String(dlq.headers().lastHeader(TopicHeaders.REASON_CODE).value(), StandardCharsets.UTF_8))
                    .isEqualTo("REQUEST_ID_REUSED");
        });
        assertThat(rows.toString()).doesNotContain("jane@");
    }

    /**
     * Two records of one request id for two identifiers, taken together (a producer that keys by
     * request id puts them in one partition): side by side, both were erased and the second
     * recorded DUPLICATE. The second now waits for the first's outcome, and is REQUEST_ID_REUSED.
     */
    @Test
    void twoRecordsOfOneRequestIdRunOneAfterTheOtherWhateverTheirSubjects() throws Exception {
        List<CompletableFuture<FinalOutcomes.Standing>> asked = new CopyOnWriteArrayList<>();
        FinalOutcomes held = held(id -> {
            CompletableFuture<FinalOutcomes.Standing> answer = new CompletableFuture<>();
            asked.add(answer);
            return answer;
        });
        RecordProcessor p = new RecordProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), executor(track), sink, held,
                new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
                List.of(Duration.ofMinutes(1)), pool, new SimpleMeterRegistry(), Clock.systemUTC());
        CompletableFuture<Void> first = p.process(request(0, Messages.request("t-9", "email", "a@home.example")));
        CompletableFuture<Void> second = p.process(request(1, Messages.request("t-9", "email", "a@work.example")));
        assertThat(asked).as("the second waits for the first, though its subject is another").hasSize(1);

        asked.get(0).complete(new FinalOutcomes.Standing(Optional.empty(), java.util.Set.of(), java.util.Set.of()));
        first.get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> asked.size() == 2);
        String home = new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123"))
                .hash(dev.cioerasure.request.Identifier.email("a@home.example"));
        asked.get(1).complete(new FinalOutcomes.Standing(Optional.of(Outcome.COMPLETED), java.util.Set.of("default"),
                java.util.Set.of("default"), java.util.Set.of(TOPIC + "-0@0"), java.util.Set.of(home)));
        second.get(10, TimeUnit.SECONDS);
        assertThat(stepsOf("t-9")).endsWith("OUTCOME COMPLETED", "VERIFY UNVERIFIABLE", "OUTCOME REJECTED");
        assertThat(track.calls).as("only the first was erased").hasValue(2);
    }

    @Test
    void recordsWaitingForTheirLookUpOrTheirAuditRowsHoldNoThread() throws Exception {
        java.util.Map<String, CompletableFuture<FinalOutcomes.Standing>> asked = new java.util.concurrent.ConcurrentHashMap<>();
        List<CompletableFuture<Void>> appends = new java.util.concurrent.CopyOnWriteArrayList<>();
        FinalOutcomes heldLookUps = held(id -> asked.computeIfAbsent(id, k -> new CompletableFuture<>()));
        AuditSink heldAppends = batch -> {
            CompletableFuture<Void> durable = new CompletableFuture<>();
            appends.add(durable);
            return durable;
        };
        RecordProcessor waiting = new RecordProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), executor(track), heldAppends,
                heldLookUps, new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
                List.of(Duration.ofMinutes(1)), pool, new SimpleMeterRegistry(), Clock.systemUTC());
        int threadsBefore = Thread.activeCount();
        List<CompletableFuture<Void>> records = new java.util.ArrayList<>();
        for (int i = 0; i < 500; i++) {
            records.add(waiting.process(request(i, Messages.request("h-" + i, "id", "person-h" + i))));
        }
        assertThat(asked).hasSize(500);
        assertThat(Thread.activeCount() - threadsBefore).as("threads for 500 records waiting for their look-up").isLessThan(10);
        // all already completed: each gets its DUPLICATE row, and waits for it to be durable
        asked.values().forEach(f -> f.complete(new FinalOutcomes.Standing(Optional.of(Outcome.COMPLETED), java.util.Set.of(),
                java.util.Set.of())));
        assertThat(appends).hasSize(500);
        assertThat(Thread.activeCount() - threadsBefore).as("threads for 500 records waiting for their audit rows").isLessThan(10);
        assertThat(records).noneMatch(CompletableFuture::isDone);
        appends.forEach(durable -> durable.complete(null));
        CompletableFuture.allOf(records.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        assertThat(track.calls).hasValue(0);
    }

    @Test
    void aCompletedRequestSeenAgainIsADuplicateAndCallsNobody() throws Exception {
        process(0, Messages.request("r-2", "id", "person-2"));
        process(1, Messages.request("r-2", "id", "person-2"));
        assertThat(stepsOf("r-2")).containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "WORKSPACE SUCCEEDED",
                "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE", "OUTCOME DUPLICATE");
        assertThat(track.calls).hasValue(2);
    }

    /**
     * The record that completed a request, read again before its offset was committed (a restart,
     * a rebalance after a long pause): it was logged and counted as a DUPLICATE, hundreds of them
     * after a pause of a minute, while the audit table rightly held none.
     */
    @Test
    void theSameRecordReadAgainIsARedoNotADuplicate() throws Exception {
        io.micrometer.core.instrument.simple.SimpleMeterRegistry meters = new SimpleMeterRegistry();
        RecordProcessor counted = new RecordProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), executor(track), sink, lookup,
                new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
                List.of(Duration.ofMinutes(1)), pool, meters, Clock.systemUTC());
        byte[] value = Messages.request("r-redo", "id", "person-redo");
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            counted.process(new ConsumerRecord<>(TOPIC, 0, 7, "k".getBytes(StandardCharsets.UTF_8), value)).get(10, TimeUnit.SECONDS);
            counted.process(new ConsumerRecord<>(TOPIC, 0, 7, "k".getBytes(StandardCharsets.UTF_8), value)).get(10, TimeUnit.SECONDS);
            assertThat(logs.lines()).anyMatch(l -> l.contains("request r-redo at " + TOPIC + "-0@7 was recorded COMPLETED by this record"
                    + " before (read again after a restart or a rebalance): nothing sent to Customer.io")).noneMatch(l -> l.contains("DUPLICATE"));
            // the same request in another record is a duplicate, as before
            counted.process(new ConsumerRecord<>(TOPIC, 0, 8, "k".getBytes(StandardCharsets.UTF_8), value)).get(10, TimeUnit.SECONDS);
            assertThat(logs.lines()).anyMatch(l -> l.contains("request r-redo at " + TOPIC + "-0@8 already COMPLETED: nothing sent to"
                    + " Customer.io (DUPLICATE)"));
        }
        assertThat(stepsOf("r-redo")).containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "WORKSPACE SUCCEEDED",
                "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE", "OUTCOME DUPLICATE");
        assertThat(track.calls).hasValue(2);
        assertThat(meters.get(dev.cioerasure.metrics.MetricNames.REQUESTS).tag("outcome", "COMPLETED").counter().count()).isEqualTo(1);
        assertThat(meters.get(dev.cioerasure.metrics.MetricNames.REQUESTS).tag("outcome", "DUPLICATE").counter().count())
                .as("one per Kafka record: only offset 8's").isEqualTo(1);
    }

    @Test
    void anInvalidMessageIsRejectedAndDeadLetteredWithoutACall() throws Exception {
        process(0, "{\"request_id\":\"r-3\"".getBytes(StandardCharsets.UTF_8));
        assertThat(rows).extracting(r -> r.outcome()).containsExactly(Outcome.REJECTED);
        assertThat(producer.history()).extracting(ProducerRecord::topic).containsExactly(TOPIC + ".dlq");
        assertThat(track.calls).hasValue(0);
    }

    /**
     * A request id built from the identifier is refused when the request arrives, and kept nowhere;
     * one an older release admitted and parked is finished; one put back by {@code dlq replay} is checked as new.
     */
    @Test
    void referencesNamingThePersonAreRefusedOnArrivalButARequestParkedBeforeIsFinished() throws Exception {
        byte[] named = Messages.request("erase-user-8812", "id", "user-8812");
        process(0, named);
        assertThat(rows).extracting(r -> r.step() + " " + r.outcome() + " " + r.requestId()).containsExactly("OUTCOME REJECTED null");
        assertThat(producer.history().get(0).headers().lastHeader(TopicHeaders.REQUEST_ID)).as("no request id on the DLQ copy").isNull();
        assertThat(track.calls).hasValue(0);

        ConsumerRecord<byte[], byte[]> parked = new ConsumerRecord<>(TOPIC + ".retry", 0, 1, 0L,
                org.apache.kafka.common.record.TimestampType.CREATE_TIME, 0, 0, "k".getBytes(StandardCharsets.UTF_8), named,
                new org.apache.kafka.common.header.internals.RecordHeaders(List.of(
                        TopicHeaders.Written.of(TopicHeaders.RETRY_ROUND, "1"))), Optional.empty());
        processor.process(parked).get(10, TimeUnit.SECONDS);
        assertThat(stepsOf("erase-user-8812")).contains("OUTCOME COMPLETED");
        assertThat(track.calls).hasValue(2);

        byte[] replayedBody = Messages.request("erase-user-8813", "id", "user-8813");
        ConsumerRecord<byte[], byte[]> replayed = new ConsumerRecord<>(TOPIC + ".retry", 0, 2, 0L,
                org.apache.kafka.common.record.TimestampType.CREATE_TIME, 0, 0, "k".getBytes(StandardCharsets.UTF_8), replayedBody,
                new org.apache.kafka.common.header.internals.RecordHeaders(List.of(
                        TopicHeaders.Written.of(TopicHeaders.REPLAY, TOPIC + ".dlq-0@0"))), Optional.empty());
        processor.process(replayed).get(10, TimeUnit.SECONDS);
        assertThat(rows.get(rows.size() - 1).outcome()).isEqualTo(Outcome.REJECTED);
        assertThat(stepsOf("erase-user-8813")).isEmpty();
        assertThat(track.calls).hasValue(2);
    }

    @Test
    void aPermanentRefusalFailsAtOnceAndATransientOneGoesToTheNextRetryRound() throws Exception {
        track.status.set(400);
        process(0, Messages.request("r-4", "id", "person-4"));
        assertThat(stepsOf("r-4")).containsExactly("SUPPRESS FAILED", "WORKSPACE FAILED", "OUTCOME FAILED");
        assertThat(rows.get(2).reason()).as("one workspace: the reason as before, without its name").startsWith("suppress: http 400");
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

    /**
     * A Retry-After longer than the in-line backoff ends the in-line retries (ResilientTrackTest):
     * the retry round is then due no sooner than the server asked, though the first round's delay
     * is shorter (1 min here), and never later than the longest retry delay.
     */
    @Test
    void aRetryRoundIsDueNoSoonerThanTheServerAsked() throws Exception {
        track.status.set(429);
        track.retryAfter.set(Duration.ofMinutes(20));
        RecordProcessor longerRounds = new RecordProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
                new ErasureExecutor(track, new TrackPolicy(1000, 1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(30),
                        Duration.ofSeconds(30), 0, Duration.ofSeconds(2)), new SimpleMeterRegistry()),
                sink, lookup, new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
                List.of(Duration.ofMinutes(1), Duration.ofHours(1)), pool, new SimpleMeterRegistry(), Clock.systemUTC());
        long before = System.currentTimeMillis();
        longerRounds.process(new ConsumerRecord<>(TOPIC, 0, 0, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-wait", "id", "person-w"))).get(10, TimeUnit.SECONDS);
        assertThat(stepsOf("r-wait")).containsExactly("SUPPRESS FAILED", "OUTCOME RETRY_SCHEDULED");
        assertThat(rows.get(1).reason()).endsWith("retry round 1 of 2 after PT20M");
        long notBefore = Long.parseLong(new String(producer.history().get(0).headers().lastHeader(TopicHeaders.NOT_BEFORE).value(),
                StandardCharsets.UTF_8));
        assertThat(notBefore).isGreaterThanOrEqualTo(before + Duration.ofMinutes(20).toMillis());

        track.retryAfter.set(Duration.ofHours(3)); // (RetryAfter caps at 1 h; a client may say more)
        longerRounds.process(new ConsumerRecord<>(TOPIC, 0, 1, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-wait-2", "id", "person-w2"))).get(10, TimeUnit.SECONDS);
        assertThat(rows.get(3).reason()).as("never later than the longest retry delay").endsWith("retry round 1 of 2 after PT1H");
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
                .containsExactly("SUPPRESS SUCCEEDED", "DESTROY SUCCEEDED", "WORKSPACE SUCCEEDED", "OUTCOME COMPLETED");
        assertThat(sentTo(TOPIC + ".verify")).hasSize(1);
        assertThat(header(sentTo(TOPIC + ".verify").get(0), TopicHeaders.VERIFY_WORKSPACE)).isEqualTo("default");
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

        // The same request in another record: a duplicate, verified again where its verification may be missing.
        verifying.process(new ConsumerRecord<>(TOPIC, 0, 8, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-6", "email", "six@example.com"))).get(10, TimeUnit.SECONDS);
        assertThat(stepsOf("r-6")).endsWith("OUTCOME DUPLICATE");
        assertThat(sentTo(TOPIC + ".verify")).hasSize(2);
        assertThat(header(sentTo(TOPIC + ".verify").get(1), TopicHeaders.VERIFY_WORKSPACE)).isEqualTo("default");
        assertThat(sentTo(TOPIC + ".outcomes")).as("COMPLETED announced, then again when seen again (at least once)")
                .extracting(r -> new String(r.key(), StandardCharsets.UTF_8) + " " + new String(r.value(), StandardCharsets.UTF_8))
                .hasSize(2).allMatch(e -> e.startsWith("r-6 {") && e.contains("\"event\":\"outcome\",\"outcome\":\"COMPLETED\"")
                        && !e.contains("six@example.com"));
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(0).value(), StandardCharsets.UTF_8)).contains("\"on_time\":true");
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(1).value(), StandardCharsets.UTF_8))
                .as("a repeat says so, and says nothing about the deadline (its time is when it was seen again)")
                .contains("announced again").doesNotContain("on_time");

        // The very record that completed it, read again (a crash before its offset was committed):
        // a redo, not a duplicate; verified and announced again all the same.
        long rowsBefore = rows.size();
        verifying.process(new ConsumerRecord<>(TOPIC, 0, 7, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-6", "email", "six@example.com"))).get(10, TimeUnit.SECONDS);
        assertThat(rows).as("no row: the table holds its outcome already").hasSize((int) rowsBefore);
        assertThat(sentTo(TOPIC + ".verify")).hasSize(3);
        assertThat(sentTo(TOPIC + ".outcomes")).hasSize(3);
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(2).value(), StandardCharsets.UTF_8)).contains("announced again");

        // Another identifier under the id (a ticket reused): announced REJECTED under the request id, its
        // reason's code telling it from the request's own outcome (docs/outcome-events.md), no identifier.
        verifying.process(new ConsumerRecord<>(TOPIC, 0, 9, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-6", "email", "seven@example.com"))).get(10, TimeUnit.SECONDS);
        assertThat(sentTo(TOPIC + ".outcomes")).hasSize(4);
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(3).value(), StandardCharsets.UTF_8))
                .contains("\"request_id\":\"r-6\"", "\"outcome\":\"REJECTED\"", "\"reason\":\"REQUEST_ID_REUSED: the request id already has"
                        + " outcome COMPLETED for another identifier;").doesNotContain("seven", "on_time");
        assertThat(sentTo(TOPIC + ".verify")).as("nobody erased: nothing to verify").hasSize(3);
    }

    @Test
    void aFailureOfARequestIdCompletedMeanwhileByAnotherRecordIsNotAnnounced() throws Exception {
        // Another instance completes the request id (another person's record under it, or a copy)
        // while this one fails it: the table holds that COMPLETED first and stores this FAILED as a
        // DUPLICATE (migration V17). Announcing the FAILED could close the ticket as failed.
        AuditSink besideAnother = batch -> {
            if (batch.stream().anyMatch(r -> "r-beside".equals(r.requestId()) && r.step() == Step.OUTCOME && r.outcome() == Outcome.FAILED)) {
                AuditEvent ours = batch.get(batch.size() - 1);
                rows.add(new AuditEvent(ours.requestId(), "another-subject", "email", Step.OUTCOME, Outcome.COMPLETED, null, null,
                        null, null, null, null, null, new AuditEvent.KafkaCoordinates(TOPIC, 1, 40), ours.occurredAt()));
                rows.addAll(batch.stream().map(r -> r.step() == Step.OUTCOME && r.outcome() == Outcome.FAILED
                        ? new AuditEvent(r.requestId(), r.subjectHash(), r.identifierType(), r.step(), Outcome.DUPLICATE, r.httpStatus(),
                        r.attempts(), "request id was already completed for another identifier; this identifier's outcome (FAILED)"
                        + " recorded as duplicate", r.regulation(), r.requestedAt(), r.deadlineAt(), r.requestedBy(), r.source(),
                        r.occurredAt()) : r).toList());
            } else {
                rows.addAll(batch);
            }
            return CompletableFuture.completedFuture(null);
        };
        Republisher republisher = new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry());
        RecordProcessor announcing = new RecordProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
                new ErasureExecutor(track, new TrackPolicy(1000, 1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(30),
                        Duration.ofSeconds(30), 0, Duration.ofSeconds(2)), new SimpleMeterRegistry()),
                besideAnother, lookup, republisher, List.of(Duration.ofMinutes(1)), Settings.Verification.OFF,
                new OutcomeEvents(republisher, TOPIC + ".outcomes"), pool, new SimpleMeterRegistry(), Clock.systemUTC());
        track.status.set(400);
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            announcing.process(new ConsumerRecord<>(TOPIC, 0, 3, "k".getBytes(StandardCharsets.UTF_8),
                    Messages.request("r-beside", "email", "failed.here@example.com"))).get(10, TimeUnit.SECONDS);
            assertThat(logs.lines()).anyMatch(l -> l.contains("request r-beside failed here but was completed by another record"
                    + " of its id meanwhile: its FAILED is not announced")).noneMatch(l -> l.contains("failed.here"));
        }
        assertThat(stepsOf("r-beside")).containsExactly("OUTCOME COMPLETED", "SUPPRESS FAILED", "WORKSPACE FAILED", "OUTCOME DUPLICATE");
        assertThat(sentTo(TOPIC + ".outcomes")).as("the other record announces its COMPLETED; no FAILED beside it").isEmpty();
        assertThat(sentTo(TOPIC + ".dlq")).as("this person was not erased: dead-lettered as before").hasSize(1);

        // Without a completion meanwhile, the FAILED is announced as always.
        announcing.process(new ConsumerRecord<>(TOPIC, 0, 4, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-alone", "email", "failed.alone@example.com"))).get(10, TimeUnit.SECONDS);
        assertThat(sentTo(TOPIC + ".outcomes")).hasSize(1);
        assertThat(new String(sentTo(TOPIC + ".outcomes").get(0).value(), StandardCharsets.UTF_8))
                .contains("\"request_id\":\"r-alone\"", "\"outcome\":\"FAILED\"");
    }

    // --- several workspaces ---

    private final StatusTrack us = new StatusTrack();
    private final StatusTrack eu = new StatusTrack();
    private final Workspaces two = new Workspaces(List.of(
            new Workspaces.Workspace("us", executor(us), false), new Workspaces.Workspace("eu", executor(eu), false)));
    private final RecordProcessor both = new RecordProcessor(new RequestParser(Clock.systemUTC(), two.names()),
            new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), two, sink, lookup,
            new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
            List.of(Duration.ofMinutes(1), Duration.ofMinutes(5)), Settings.Verification.OFF, OutcomeEvents.NONE, pool,
            new SimpleMeterRegistry(), Clock.systemUTC());

    /** As the worker builds them with several workspaces: a paused one answers PAUSED at once instead of waiting. */
    private static ErasureExecutor executor(StatusTrack t) {
        return new ErasureExecutor(t, new TrackPolicy(1000, 1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(30),
                Duration.ofSeconds(30), 0, Duration.ofSeconds(2)), new SimpleMeterRegistry(), "w", false);
    }

    private void processBoth(ConsumerRecord<byte[], byte[]> rec) throws Exception {
        both.process(rec).get(10, TimeUnit.SECONDS);
    }

    private static ConsumerRecord<byte[], byte[]> request(long offset, byte[] value) {
        return new ConsumerRecord<>(TOPIC, 0, offset, "k".getBytes(StandardCharsets.UTF_8), value);
    }

    /** The parked copy, as read back from the retry topic. */
    private static ConsumerRecord<byte[], byte[]> readBack(ProducerRecord<byte[], byte[]> parked, long offset) {
        ConsumerRecord<byte[], byte[]> r = new ConsumerRecord<>(parked.topic(), 0, offset, 0L,
                org.apache.kafka.common.record.TimestampType.CREATE_TIME, 0, 0, parked.key(), parked.value(), parked.headers(),
                Optional.empty());
        return r;
    }

    private List<String> withWorkspace(String requestId) {
        return rows.stream().filter(r -> requestId.equals(r.requestId()))
                .map(r -> r.step() + " " + r.outcome() + (r.workspace() == null ? "" : " " + r.workspace())).toList();
    }

    @Test
    void aRequestIsErasedInEveryWorkspaceAndCompletesOnlyWhenAllDid() throws Exception {
        processBoth(request(0, Messages.request("m-1", "id", "person-m1")));
        assertThat(withWorkspace("m-1")).containsExactly(
                "SUPPRESS SUCCEEDED us", "DESTROY SUCCEEDED us", "WORKSPACE SUCCEEDED us",
                "SUPPRESS SUCCEEDED eu", "DESTROY SUCCEEDED eu", "WORKSPACE SUCCEEDED eu",
                "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE us", "VERIFY UNVERIFIABLE eu");
        assertThat(us.calls).hasValue(2);
        assertThat(eu.calls).hasValue(2);
    }

    @Test
    void aRequestNamingWorkspacesIsErasedOnlyThereAndAnUnknownNameIsRejected() throws Exception {
        processBoth(request(0, Messages.inWorkspaces("m-2", "id", "person-m2", "eu")));
        assertThat(withWorkspace("m-2")).containsExactly(
                "SUPPRESS SUCCEEDED eu", "DESTROY SUCCEEDED eu", "WORKSPACE SUCCEEDED eu", "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE eu");
        assertThat(us.calls).hasValue(0);

        processBoth(request(1, Messages.inWorkspaces("m-3", "id", "person-m3", "eu", "apac")));
        assertThat(withWorkspace("m-3")).containsExactly("OUTCOME REJECTED");
        assertThat(rows.get(rows.size() - 1).reason()).isEqualTo("INVALID_VALUE: workspaces: 1 unknown workspace (configured: eu, us)")
                .as("the message's own value is not quoted").doesNotContain("apac");
        assertThat(eu.calls).hasValue(2);
        assertThat(sentTo(TOPIC + ".dlq")).hasSize(1);
    }

    /**
     * The same person's request sent again under its id, naming a workspace it was not erased in:
     * as a DUPLICATE, that workspace kept the person and the id read COMPLETED. It is rejected now;
     * the request sent again as it was is still a DUPLICATE.
     */
    @Test
    void aCompletedRequestIdSentAgainForAWorkspaceItWasNotErasedInIsRejected() throws Exception {
        processBoth(request(0, Messages.inWorkspaces("m-9", "id", "person-m9", "eu")));
        processBoth(request(1, Messages.inWorkspaces("m-9", "id", "person-m9", "eu", "us")));
        processBoth(request(2, Messages.inWorkspaces("m-9", "id", "person-m9", "eu")));
        assertThat(withWorkspace("m-9")).containsExactly("SUPPRESS SUCCEEDED eu", "DESTROY SUCCEEDED eu", "WORKSPACE SUCCEEDED eu",
                "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE eu", "OUTCOME REJECTED", "OUTCOME DUPLICATE");
        assertThat(rows.get(rows.size() - 2).reason()).isEqualTo("REQUEST_ID_REUSED: the request id was completed in eu; this one names us"
                + " too, and was not erased there: submit it under a request id of its own");
        assertThat(us.calls).hasValue(0);
        assertThat(sentTo(TOPIC + ".dlq")).hasSize(1);
    }

    @Test
    void aRetryRoundErasesOnlyInTheWorkspacesStillMissing() throws Exception {
        eu.status.set(503);
        processBoth(request(0, Messages.request("m-4", "id", "person-m4")));
        assertThat(withWorkspace("m-4")).containsExactly(
                "SUPPRESS SUCCEEDED us", "DESTROY SUCCEEDED us", "WORKSPACE SUCCEEDED us",
                "SUPPRESS FAILED eu", "OUTCOME RETRY_SCHEDULED");
        assertThat(rows.get(rows.size() - 1).reason()).startsWith("workspace eu: suppress: http 503 after 1 attempt (retryable)")
                .endsWith("retry round 1 of 2 after PT1M");
        ProducerRecord<byte[], byte[]> parked = sentTo(TOPIC + ".retry").get(0);
        assertThat(header(parked, TopicHeaders.RETRY_ROUND)).isEqualTo("1");

        eu.status.set(200);
        rows.clear();
        // the retry round, as the worker reads it back (the rows of round one are in the database)
        rows.addAll(List.of(new AuditEvent("m-4", null, null, Step.WORKSPACE, Outcome.SUCCEEDED, null, null, null, null, null, null,
                null, null, java.time.Instant.now(), "us")));
        processBoth(readBack(parked, 0));
        assertThat(us.calls).as("us was done in round one: not called again").hasValue(2);
        assertThat(withWorkspace("m-4")).containsExactly("WORKSPACE SUCCEEDED us",
                "SUPPRESS SUCCEEDED eu", "DESTROY SUCCEEDED eu", "WORKSPACE SUCCEEDED eu", "OUTCOME COMPLETED",
                "VERIFY UNVERIFIABLE us", "VERIFY UNVERIFIABLE eu");
    }

    @Test
    void verificationStartsWhenTheRequestIsCompleteInEveryWorkspaceWithAKeyAlsoThoseDoneInAnEarlierRound() throws Exception {
        Settings.Verification on = new Settings.Verification(Secret.of("k", "app-key"), null, 10, Duration.ofSeconds(30), Duration.ofHours(2));
        Republisher republisher = new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", TOPIC + ".verify", "unit",
                new SimpleMeterRegistry());
        StatusTrack staging = new StatusTrack();
        Workspaces three = new Workspaces(List.of(new Workspaces.Workspace("us", executor(us), true),
                new Workspaces.Workspace("eu", executor(eu), true), new Workspaces.Workspace("staging", executor(staging), false)));
        RecordProcessor p = new RecordProcessor(new RequestParser(Clock.systemUTC(), three.names()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), three, sink, lookup, republisher,
                List.of(Duration.ofMinutes(1)), on, OutcomeEvents.NONE, pool, new SimpleMeterRegistry(), Clock.systemUTC());
        eu.status.set(503);
        p.process(request(0, Messages.request("m-9", "id", "person-m9"))).get(10, TimeUnit.SECONDS);
        assertThat(sentTo(TOPIC + ".verify")).as("not while the request is incomplete").isEmpty();
        assertThat(withWorkspace("m-9")).as("no verification of any kind before the request is complete")
                .noneMatch(row -> row.startsWith("VERIFY"));
        eu.status.set(200);
        p.process(readBack(sentTo(TOPIC + ".retry").get(0), 0)).get(10, TimeUnit.SECONDS);
        assertThat(withWorkspace("m-9")).endsWith("WORKSPACE SUCCEEDED eu", "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE staging");
        assertThat(sentTo(TOPIC + ".verify")).extracting(r -> header(r, TopicHeaders.VERIFY_WORKSPACE))
                .as("us succeeded in round one, eu in round two; staging has no App API key").containsExactly("us", "eu");
    }

    @Test
    void aSuppressionAcceptedInAnEarlierRoundIsNotRepeated() throws Exception {
        java.util.concurrent.atomic.AtomicInteger call = new java.util.concurrent.atomic.AtomicInteger();
        StatusTrack failingDestroy = new StatusTrack() {
            @Override
            public dev.cioerasure.customerio.TrackResult destroy(dev.cioerasure.request.Identifier identifier) {
                return call.incrementAndGet() == 1 ? new dev.cioerasure.customerio.TrackResult(dev.cioerasure.customerio.TrackOperation.DESTROY,
                        503, dev.cioerasure.customerio.TrackResult.Kind.RETRYABLE, Optional.empty(), "http 503", Duration.ofMillis(1))
                        : super.destroy(identifier);
            }
        };
        Workspaces one = new Workspaces(List.of(new Workspaces.Workspace("us", executor(failingDestroy), false)));
        RecordProcessor p = new RecordProcessor(new RequestParser(Clock.systemUTC(), one.names()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), one, sink, lookup,
                new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
                List.of(Duration.ofMinutes(1)), Settings.Verification.OFF, OutcomeEvents.NONE, pool, new SimpleMeterRegistry(),
                Clock.systemUTC());
        p.process(request(0, Messages.request("m-8", "id", "person-m8"))).get(10, TimeUnit.SECONDS);
        p.process(readBack(sentTo(TOPIC + ".retry").get(0), 0)).get(10, TimeUnit.SECONDS);
        assertThat(withWorkspace("m-8")).containsExactly("SUPPRESS SUCCEEDED us", "DESTROY FAILED us", "OUTCOME RETRY_SCHEDULED",
                "DESTROY SUCCEEDED us", "WORKSPACE SUCCEEDED us", "OUTCOME COMPLETED", "VERIFY UNVERIFIABLE us");
        assertThat(call).as("two destroys").hasValue(2);
        assertThat(failingDestroy.calls).as("one suppress and the accepted destroy").hasValue(2);
    }

    @Test
    void aPausedWorkspaceNeitherWaitsNorUsesUpARetryRoundAndAFailedOneIsNamed() throws Exception {
        eu.status.set(401); // refused credentials: the gate closes after one re-read, then eu is paused
        processBoth(request(0, Messages.request("m-5", "id", "person-m5")));
        assertThat(withWorkspace("m-5")).containsExactly(
                "SUPPRESS SUCCEEDED us", "DESTROY SUCCEEDED us", "WORKSPACE SUCCEEDED us", "OUTCOME RETRY_SCHEDULED");
        assertThat(rows.get(rows.size() - 1).reason())
                .isEqualTo("workspace eu: suppress: not called: credentials refused (workspace paused); not a retry round (paused 1 time"
                        + " in a row), again after PT1M");
        ProducerRecord<byte[], byte[]> parked = sentTo(TOPIC + ".retry").get(0);
        assertThat(header(parked, TopicHeaders.RETRY_ROUND)).as("no round used up").isEqualTo("0");
        assertThat(header(parked, TopicHeaders.PAUSES)).isEqualTo("1");
        assertThat(header(parked, TopicHeaders.REASON_CODE)).isEqualTo("WORKSPACE_PAUSED");
        processBoth(readBack(parked, 0));
        ProducerRecord<byte[], byte[]> again = sentTo(TOPIC + ".retry").get(1);
        assertThat(header(again, TopicHeaders.PAUSES)).as("still paused: the wait grows with the retry delays").isEqualTo("2");
        assertThat(header(again, TopicHeaders.RETRY_ROUND)).isEqualTo("0");
        assertThat(rows.get(rows.size() - 1).reason()).endsWith("(paused 2 times in a row), again after PT5M");
        assertThat(both.pausedWait(3)).as("the last retry delay once they run out").isEqualTo(Duration.ofMinutes(5));
        RecordProcessor defaults = new RecordProcessor(new RequestParser(Clock.systemUTC(), two.names()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")), two, sink, lookup,
                new Republisher(producer, TOPIC + ".dlq", TOPIC + ".retry", "unit", new SimpleMeterRegistry()),
                Settings.Worker.DEFAULT_RETRY_DELAYS, Settings.Verification.OFF, OutcomeEvents.NONE, pool, new SimpleMeterRegistry(),
                Clock.systemUTC());
        assertThat(java.util.stream.IntStream.rangeClosed(1, 6).mapToObj(defaults::pausedWait).map(Duration::toMinutes).toList())
                .as("the default retry delays, at most a quarter of an hour").containsExactly(1L, 5L, 15L, 15L, 15L, 15L);
        int euCalls = eu.calls.get();
        processBoth(request(1, Messages.request("m-6", "id", "person-m6")));
        assertThat(eu.calls).as("while paused, eu is not called at all").hasValue(euCalls);

        us.status.set(400);
        processBoth(request(2, Messages.inWorkspaces("m-7", "id", "person-m7", "us")));
        assertThat(withWorkspace("m-7")).containsExactly("SUPPRESS FAILED us", "WORKSPACE FAILED us", "OUTCOME FAILED");
        assertThat(rows.get(rows.size() - 1).reason()).startsWith("workspace us: suppress: http 400");
    }

    private List<ProducerRecord<byte[], byte[]>> sentTo(String topic) {
        return producer.history().stream().filter(r -> r.topic().equals(topic)).toList();
    }

    private static String header(ProducerRecord<byte[], byte[]> r, String key) {
        return new String(r.headers().lastHeader(key).value(), StandardCharsets.UTF_8);
    }
}
