package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditLog;
import dev.cioerasure.audit.AuditSink;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.customerio.PresenceResult;
import dev.cioerasure.erasure.VerificationExecutor;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.request.RequestParser;
import dev.cioerasure.testing.Messages;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What each check of a completed request's person is decided into: no broker, no database, no HTTP. */
class VerificationProcessorTest {
    private static final String TOPIC = "erasure.requests.verify";
    private static final Instant T0 = Instant.parse("2026-11-29T10:00:00Z");
    private static final Settings.Verification SETTINGS = new Settings.Verification(Secret.of("CUSTOMERIO_APP_API_KEY", "k"), null, 10,
            Duration.ofMinutes(1), Duration.ofHours(24));

    private final List<AuditEvent> rows = new CopyOnWriteArrayList<>();
    private final AuditSink sink = batch -> {
        rows.addAll(batch);
        return CompletableFuture.completedFuture(null);
    };
    private final Set<String> verified = ConcurrentHashMap.newKeySet();
    /** Requests the audit table shows COMPLETED, and for whom (subject hash); any other is not erased. */
    private final Map<String, String> completed = new ConcurrentHashMap<>();
    private final List<String> asked = new CopyOnWriteArrayList<>();

    /** Requests whose person was erased beside another's completion of the id (stored as a duplicate), and who. */
    private final Map<String, String> erasedBeside = new ConcurrentHashMap<>();

    private AuditLog.VerificationStanding standing(String requestId, String subject, String workspace) {
        asked.add(requestId + " " + workspace);
        if (verified.contains(requestId)) {
            return AuditLog.VerificationStanding.DONE;
        }
        if (subject.equals(erasedBeside.get(requestId))) {
            return AuditLog.VerificationStanding.ERASED_BESIDE;
        }
        return subject.equals(completed.getOrDefault(requestId, subject)) ? AuditLog.VerificationStanding.DUE
                : AuditLog.VerificationStanding.NOT_ERASED;
    }
    private final dev.cioerasure.testing.SetClock clock = new dev.cioerasure.testing.SetClock(T0);
    /** What the App API answers, one status per attempt; 404 once they run out. */
    private final Deque<Integer> answers = new ArrayDeque<>();
    private final AtomicInteger lookups = new AtomicInteger();
    private final Deque<Integer> controlAnswers = new ArrayDeque<>();
    private final AtomicInteger controls = new AtomicInteger();
    /** The Retry-After of a 429, or null for none. */
    private final AtomicReference<Duration> retryAfter = new AtomicReference<>();
    private final MockProducer<byte[], byte[]> producer = new MockProducer<>(true, null, new ByteArraySerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private final Republisher republisher = new Republisher(producer, "t.dlq", "t.retry", TOPIC, "unit", meters);
    private final VerificationProcessor processor = new VerificationProcessor(new RequestParser(Clock.systemUTC()),
            new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
            java.util.Map.of(Settings.Workspace.DEFAULT_NAME, new VerificationExecutor(id -> {
                lookups.incrementAndGet();
                Integer status = answers.poll();
                int s = status == null ? 404 : status;
                return new PresenceResult(s, PresenceResult.classify(s), Optional.ofNullable(s == 429 ? retryAfter.get() : null), "http " + s);
            }, id -> { // the same App API with a made-up key: refused, as the App API does
                controls.incrementAndGet();
                Integer status = controlAnswers.poll();
                int s = status == null ? 401 : status;
                return new PresenceResult(s, PresenceResult.classify(s), Optional.empty(), "http " + s);
            }, 1000, 3, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(30), Duration.ofSeconds(2), meters, null)),
            Settings.Workspace.DEFAULT_NAME, sink, this::standing, republisher,
            new OutcomeEvents(republisher, "t.outcomes"), SETTINGS, pool, meters, clock);

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** A verification record as the worker writes it: {@code checks} made, {@code last} learnt, deadline 24 h after T0. */
    private void check(String requestId, int checks, String last) throws Exception {
        RecordHeaders h = new RecordHeaders();
        h.add(TopicHeaders.REQUEST_ID, requestId.getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_CHECKS, Integer.toString(checks).getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_LAST, last.getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_DEADLINE, Long.toString(T0.plus(Duration.ofHours(24)).toEpochMilli()).getBytes(StandardCharsets.UTF_8));
        processor.process(new ConsumerRecord<>(TOPIC, 0, 3, 0L, TimestampType.CREATE_TIME, 1, 1, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request(requestId, "email", "jane@example.com"), h, Optional.empty())).get(10, TimeUnit.SECONDS);
    }

    private double counted(String name, String tag, String value) {
        return meters.get(name).tag(tag, value).counter().count();
    }

    /** What was put back on the verification topic for a later check. */
    private List<ProducerRecord<byte[], byte[]>> checks() {
        return producer.history().stream().filter(r -> r.topic().equals(TOPIC)).toList();
    }

    /** The outcome events announced. */
    private List<String> events() {
        return producer.history().stream().filter(r -> r.topic().equals("t.outcomes"))
                .map(r -> new String(r.key(), StandardCharsets.UTF_8) + " " + new String(r.value(), StandardCharsets.UTF_8)).toList();
    }

    private static String header(ProducerRecord<byte[], byte[]> r, String key) {
        return new String(r.headers().lastHeader(key).value(), StandardCharsets.UTF_8);
    }

    @Test
    void aPersonTheAppApiNoLongerFindsIsVerified() throws Exception {
        clock.set(T0.plus(Duration.ofMinutes(1)));
        check("r-1", 0, "none");
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.step()).isEqualTo(Step.VERIFY);
            assertThat(r.outcome()).isEqualTo(Outcome.VERIFIED);
            assertThat(r.httpStatus()).isEqualTo(404);
            assertThat(r.attempts()).as("checks made").isEqualTo(1);
            assertThat(r.requestId()).isEqualTo("r-1");
            assertThat(r.regulation()).isEqualTo("GDPR");
            assertThat(r.source().topic()).isEqualTo(TOPIC);
        });
        assertThat(rows.toString()).doesNotContain("jane@example.com");
        assertThat(checks()).isEmpty();
        assertThat(counted("erasure.verifications", "outcome", "VERIFIED")).isEqualTo(1);
        assertThat(counted("erasure.verification.checks", "result", "gone")).isEqualTo(1);
        assertThat(events()).singleElement().asString().startsWith("r-1 {\"schema\":\"cio-erasure-outcome/1\",\"request_id\":\"r-1\","
                + "\"event\":\"verification\",\"outcome\":\"VERIFIED\"").doesNotContain("jane@example.com");
    }

    @Test
    void aPersonStillPresentBeforeTheDeadlineIsCheckedAgainLater() throws Exception {
        answers.add(200);
        clock.set(T0.plus(Duration.ofMinutes(1)));
        check("r-2", 0, "none");
        assertThat(rows).isEmpty();
        assertThat(events()).as("nothing to announce before a result").isEmpty();
        ProducerRecord<byte[], byte[]> next = checks().get(0);
        assertThat(next.topic()).isEqualTo(TOPIC);
        assertThat(header(next, TopicHeaders.VERIFY_CHECKS)).isEqualTo("1");
        assertThat(header(next, TopicHeaders.VERIFY_LAST)).isEqualTo("present");
        assertThat(header(next, TopicHeaders.VERIFY_LAST_STATUS)).isEqualTo("200");
        assertThat(Instant.ofEpochMilli(Long.parseLong(header(next, TopicHeaders.NOT_BEFORE))))
                .as("twice the first interval after the first check").isEqualTo(clock.instant().plus(Duration.ofMinutes(2)));
        assertThat(header(next, TopicHeaders.VERIFY_DEADLINE)).isEqualTo(Long.toString(T0.plus(Duration.ofHours(24)).toEpochMilli()));
        assertThat(next.value()).isEqualTo(Messages.request("r-2", "email", "jane@example.com"));
    }

    @Test
    void aPersonStillPresentAtTheDeadlineIsStillPresent() throws Exception {
        answers.add(200);
        clock.set(T0.plus(Duration.ofHours(24)));
        check("r-3", 9, "present");
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.outcome()).isEqualTo(Outcome.STILL_PRESENT);
            assertThat(r.attempts()).isEqualTo(10);
            assertThat(r.httpStatus()).isEqualTo(200);
            assertThat(r.reason()).contains("still found the person at the verification deadline");
        });
        assertThat(checks()).isEmpty();
        assertThat(counted("erasure.verifications", "outcome", "STILL_PRESENT")).isEqualTo(1);
    }

    @Test
    void errorsUntilTheDeadlineLeaveItUnverifiableUnlessThePersonWasSeenBefore() throws Exception {
        clock.set(T0.plus(Duration.ofHours(25)));
        answers.addAll(List.of(503, 503, 503));
        check("r-4", 5, "error");
        assertThat(lookups).as("in-line retries of a 5xx").hasValue(3);
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.outcome()).isEqualTo(Outcome.UNVERIFIABLE);
            assertThat(r.reason()).contains("no answer from the App API before the verification deadline", "http 503");
        });

        answers.addAll(List.of(503, 503, 503));
        check("r-5", 5, "present");
        assertThat(rows.get(1).outcome()).as("seen present, then no answer: still present as far as anyone knows")
                .isEqualTo(Outcome.STILL_PRESENT);
    }

    /** The in-line backoff is 5 ms here: a 429 asking for 10 minutes is checked again no sooner (not after 2 minutes). */
    @Test
    void aRetryAfterLongerThanTheInLineBackoffSetsTheNextCheck() throws Exception {
        answers.add(429);
        retryAfter.set(Duration.ofMinutes(10));
        clock.set(T0.plus(Duration.ofMinutes(1)));
        check("r-ra", 0, "none");
        assertThat(lookups).as("not retried in line").hasValue(1);
        assertThat(rows).isEmpty();
        assertThat(Instant.ofEpochMilli(Long.parseLong(header(checks().get(0), TopicHeaders.NOT_BEFORE))))
                .isEqualTo(clock.instant().plus(Duration.ofMinutes(10)));
    }

    @Test
    void a429OrA5xxIsRetriedInLineAndTheCheckStillAnswers() throws Exception {
        answers.addAll(List.of(429, 503));
        clock.set(T0.plus(Duration.ofMinutes(1)));
        check("r-6", 0, "none");
        assertThat(lookups).hasValue(3);
        assertThat(rows).singleElement().extracting(AuditEvent::outcome).isEqualTo(Outcome.VERIFIED);
    }

    @Test
    void aRefusedQuestionIsUnverifiableAtOnce() throws Exception {
        answers.add(400);
        clock.set(T0.plus(Duration.ofMinutes(1)));
        check("r-7", 0, "none");
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.outcome()).isEqualTo(Outcome.UNVERIFIABLE);
            assertThat(r.reason()).contains("refused the look-up (http 400)");
        });
        assertThat(checks()).isEmpty();
    }

    /**
     * A revoked App API key: each check is asked again until the deadline (a day by default) and
     * only then recorded UNVERIFIABLE. It said nothing meanwhile but a debug line; now it is
     * logged when it starts and ends, and {@code erasure_app_credentials_rejected} alerts.
     */
    @Test
    void aRefusedAppKeyIsSaidAtOnceAndGaugedUntilAnAnswerComesAgain() throws Exception {
        java.util.function.DoubleSupplier refused = () -> meters.get("erasure.app.credentials.rejected").gauge().value();
        assertThat(refused.getAsDouble()).isZero();
        clock.set(T0.plus(Duration.ofMinutes(1)));
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            answers.add(401);
            check("r-key", 0, "none");
            assertThat(rows).as("asked again later, not given up").isEmpty();
            assertThat(checks()).hasSize(1);
            assertThat(refused.getAsDouble()).isEqualTo(1);
            answers.add(403);
            check("r-key-2", 0, "none");
            assertThat(refused.getAsDouble()).isEqualTo(1);
            assertThat(logs.lines()).as("said once, when it starts").filteredOn(l -> l.contains("refuses the App API key")).singleElement()
                    .asString().contains("the App API refuses the App API key (HTTP 401): no erasure can be verified until it is"
                            + " replaced; each check is asked again until its verification deadline");

            check("r-key-3", 0, "none"); // 404: an answer
            assertThat(refused.getAsDouble()).isZero();
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("the App API accepts the App API key again"));
        }
    }

    /**
     * A 404 counts only from a server that refuses a made-up key: at a wrong CUSTOMERIO_APP_URL
     * (a gateway, another API answering a JSON 404 to anything), every check was recorded
     * VERIFIED, a proof of erasure without Customer.io being asked.
     */
    @Test
    void a404FromAServerThatTakesAMadeUpKeyIsNoProof() throws Exception {
        clock.set(T0.plus(Duration.ofMinutes(1)));
        controlAnswers.add(404);
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            check("r-gw", 0, "none");
            assertThat(rows).as("no VERIFIED row").isEmpty();
            assertThat(header(checks().get(0), TopicHeaders.VERIFY_LAST)).as("asked again later").isEqualTo("error");
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("answered http 404 to a look-up with a made-up key: it"
                    + " does not check App API keys, so it is not the App API"));
        }
        // CUSTOMERIO_APP_URL put right: the server refuses the made-up key, and a 404 counts
        check("r-gw", 1, "error");
        assertThat(rows).singleElement().extracting(AuditEvent::outcome).isEqualTo(Outcome.VERIFIED);
        check("r-gw-2", 0, "none");
        assertThat(rows).hasSize(2);
        assertThat(controls).as("asked once for each failed control, then at most once an hour").hasValue(2);
    }

    /**
     * An App API key of another workspace is accepted and answers 404 for everyone: every check
     * was recorded VERIFIED. With a control person set (CUSTOMERIO_APP_CONTROL_PERSON_ID), a 404
     * counts only once the key finds that person; the key put right, it does.
     */
    @Test
    void a404FromAKeyThatDoesNotFindTheControlPersonIsNoProof() throws Exception {
        java.util.Set<String> workspaceHolds = java.util.concurrent.ConcurrentHashMap.newKeySet(); // what the key's workspace holds
        SimpleMeterRegistry ownMeters = new SimpleMeterRegistry(); // the shared one holds the other executor's gauges
        List<String> looked = new CopyOnWriteArrayList<>();
        VerificationExecutor executor = new VerificationExecutor(id -> {
            looked.add(id.type() + ":" + id.value());
            int s = workspaceHolds.contains(id.value()) ? 200 : 404;
            return new PresenceResult(s, PresenceResult.classify(s), Optional.empty(), "http " + s);
        }, id -> new PresenceResult(401, PresenceResult.Kind.UNAUTHORIZED, Optional.empty(), "http 401"),
                dev.cioerasure.request.Identifier.id("qa-seed-7"), 1000, 3, Duration.ofMillis(1), Duration.ofMillis(5),
                Duration.ofSeconds(30), Duration.ofSeconds(2), ownMeters, null);
        VerificationProcessor withControl = new VerificationProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
                java.util.Map.of(Settings.Workspace.DEFAULT_NAME, executor), Settings.Workspace.DEFAULT_NAME, sink, this::standing,
                republisher, new OutcomeEvents(republisher, "t.outcomes"), SETTINGS, pool, meters, clock);
        clock.set(T0.plus(Duration.ofMinutes(1)));
        RecordHeaders h = new RecordHeaders();
        h.add(TopicHeaders.REQUEST_ID, "r-ws".getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_CHECKS, "0".getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_LAST, "none".getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_DEADLINE, Long.toString(T0.plus(Duration.ofHours(24)).toEpochMilli()).getBytes(StandardCharsets.UTF_8));
        ConsumerRecord<byte[], byte[]> task = new ConsumerRecord<>(TOPIC, 0, 3, 0L, TimestampType.CREATE_TIME, 1, 1,
                "k".getBytes(StandardCharsets.UTF_8), Messages.request("r-ws", "email", "jane@example.com"), h, Optional.empty());
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            withControl.process(task).get(10, TimeUnit.SECONDS);
            assertThat(rows).as("no VERIFIED row from a key of another workspace").isEmpty();
            assertThat(header(checks().get(0), TopicHeaders.VERIFY_LAST)).as("asked again later").isEqualTo("error");
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("the App API key does not find the control person"
                    + " (CUSTOMERIO_APP_CONTROL_PERSON_ID): it reads another workspace, or that person was erased"));
            assertThat(logs.lines()).noneSatisfy(l -> assertThat(l).contains("qa-seed-7"));
            assertThat(ownMeters.get("erasure.app.control.person.missing").gauge().value()).as("the alert's gauge").isEqualTo(1);
            withControl.process(task).get(10, TimeUnit.SECONDS);
            assertThat(rows).isEmpty();
            assertThat(logs.lines().stream().filter(l -> l.contains("does not find the control person"))).as("said once, not per check")
                    .hasSize(1);
        }
        assertThat(looked).containsExactly("EMAIL:jane@example.com", "ID:qa-seed-7", "EMAIL:jane@example.com", "ID:qa-seed-7");
        // the key of the right workspace: it finds the control person, and the 404 counts
        workspaceHolds.add("qa-seed-7");
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            withControl.process(task).get(10, TimeUnit.SECONDS);
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("the App API key finds the control person again"));
        }
        assertThat(rows).singleElement().extracting(AuditEvent::outcome).isEqualTo(Outcome.VERIFIED);
        assertThat(rows.toString()).doesNotContain("qa-seed-7");
        assertThat(ownMeters.get("erasure.app.control.person.missing").gauge().value()).isZero();
    }

    @Test
    void anAlreadyVerifiedRequestIsNotCheckedAgain() throws Exception {
        verified.add("r-8");
        check("r-8", 0, "none");
        assertThat(lookups).hasValue(0);
        assertThat(rows).isEmpty();
        assertThat(checks()).isEmpty();
    }

    @Test
    void noVerificationRecordIsHeldLongerThanTheLongestWaitBetweenChecks() {
        assertThat(processor.longestWait()).isEqualTo(Settings.Verification.MAX_INTERVAL);
        for (int made = 0; made < 30; made++) {
            assertThat(Duration.between(T0, VerificationProcessor.nextCheck(SETTINGS, T0, made, T0.plus(Duration.ofDays(30)))))
                    .isLessThanOrEqualTo(processor.longestWait());
        }
    }

    @Test
    void aRecordTheAuditTableDoesNotBackIsSkippedWithoutACall() throws Exception {
        SubjectHasher hasher = new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123"));
        completed.put("r-9", hasher.hash(new dev.cioerasure.request.Identifier(dev.cioerasure.request.IdentifierType.EMAIL,
                "someone-else@example.com")));
        check("r-9", 0, "none"); // the record names jane@example.com, the audit table erased someone else
        assertThat(asked).containsExactly("r-9 null"); // no workspace header: the row without a workspace
        assertThat(lookups).hasValue(0);
        assertThat(rows).isEmpty();
        assertThat(checks()).isEmpty();
        assertThat(counted("erasure.verification.checks", "result", "ignored")).isEqualTo(1);

        completed.put("r-9", hasher.hash(new dev.cioerasure.request.Identifier(dev.cioerasure.request.IdentifierType.EMAIL,
                "jane@example.com")));
        check("r-9", 0, "none");
        assertThat(lookups).hasValue(1);
        assertThat(rows).singleElement().extracting(AuditEvent::outcome).isEqualTo(Outcome.VERIFIED);
    }

    /**
     * Two records of one id for two persons ran at once; the one completed second was stored as a
     * duplicate. Its verification record is the worker's own: it was logged as "not backed by the
     * audit table" and counted with forged ones.
     */
    @Test
    void theRecordOfAPersonErasedBesideTheRequestsCompletionIsNotCheckedNorTakenForAForgery() throws Exception {
        SubjectHasher hasher = new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123"));
        completed.put("r-10", hasher.hash(new dev.cioerasure.request.Identifier(dev.cioerasure.request.IdentifierType.EMAIL,
                "someone-else@example.com")));
        erasedBeside.put("r-10", hasher.hash(new dev.cioerasure.request.Identifier(dev.cioerasure.request.IdentifierType.EMAIL,
                "jane@example.com")));
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            check("r-10", 0, "none");
            assertThat(lookups).hasValue(0);
            assertThat(rows).isEmpty();
            assertThat(counted("erasure.verification.checks", "result", "ignored")).isZero();
            assertThat(logs.lines()).anyMatch(l -> l.contains("request r-10): this person's record ran beside the request's completion"
                    + " for another identifier")).noneMatch(l -> l.contains("not backed"));
        }
    }

    @Test
    void withSeveralWorkspacesACheckScheduledBeforeWorkspacesSaysItCannotTellWhichOne() throws Exception {
        VerificationProcessor several = new VerificationProcessor(new RequestParser(Clock.systemUTC()),
                new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "unit-test-subject-key-0123")),
                java.util.Map.of("us", new VerificationExecutor(id -> {
                    lookups.incrementAndGet();
                    return new PresenceResult(404, PresenceResult.classify(404), Optional.empty(), "http 404");
                }, null, 1000, 3, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(30), Duration.ofSeconds(2), meters, null)),
                null, sink, (id, subject, workspace) -> AuditLog.VerificationStanding.DUE, republisher, new OutcomeEvents(republisher, "t.outcomes"), SETTINGS, pool,
                meters, clock);
        RecordHeaders h = new RecordHeaders(); // no workspace header: written before workspaces existed
        h.add(TopicHeaders.REQUEST_ID, "r-old".getBytes(StandardCharsets.UTF_8));
        h.add(TopicHeaders.VERIFY_DEADLINE, Long.toString(T0.plus(Duration.ofHours(24)).toEpochMilli()).getBytes(StandardCharsets.UTF_8));
        several.process(new ConsumerRecord<>(TOPIC, 0, 4, 0L, TimestampType.CREATE_TIME, 1, 1, "k".getBytes(StandardCharsets.UTF_8),
                Messages.request("r-old", "email", "jane@example.com"), h, Optional.empty())).get(10, TimeUnit.SECONDS);

        assertThat(lookups).hasValue(0);
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.outcome()).isEqualTo(Outcome.UNVERIFIABLE);
            assertThat(r.workspace()).isNull();
            assertThat(r.reason()).contains("scheduled before workspaces were configured");
        });
        assertThat(meters.get("erasure.verifications").tag("workspace", VerificationProcessor.UNKNOWN_WORKSPACE)
                .tag("outcome", "UNVERIFIABLE").counter().count()).isEqualTo(1);
        assertThat(meters.find("erasure.verifications").tag("workspace", "null").counters()).isEmpty();
    }

    @Test
    void aRecordTheWorkerDidNotWriteIsSkippedWithoutACall() throws Exception {
        processor.process(new ConsumerRecord<>(TOPIC, 0, 1, "k".getBytes(StandardCharsets.UTF_8),
                "{\"not\":\"a request\"}".getBytes(StandardCharsets.UTF_8))).get(10, TimeUnit.SECONDS);
        assertThat(lookups).hasValue(0);
        assertThat(rows).isEmpty();
        assertThat(counted("erasure.verification.checks", "result", "ignored")).isEqualTo(1);
    }

    @Test
    void checksBackOffByDoublingUpToAnHourAndTheLastOneIsAtTheDeadline() {
        Instant deadline = T0.plus(Duration.ofHours(24));
        assertThat(VerificationProcessor.nextCheck(SETTINGS, T0, 1, deadline)).isEqualTo(T0.plus(Duration.ofMinutes(2)));
        assertThat(VerificationProcessor.nextCheck(SETTINGS, T0, 3, deadline)).isEqualTo(T0.plus(Duration.ofMinutes(8)));
        assertThat(VerificationProcessor.nextCheck(SETTINGS, T0, 7, deadline)).as("capped").isEqualTo(T0.plus(Duration.ofHours(1)));
        assertThat(VerificationProcessor.nextCheck(SETTINGS, T0, 60, deadline)).isEqualTo(T0.plus(Duration.ofHours(1)));
        assertThat(VerificationProcessor.nextCheck(SETTINGS, deadline.minusSeconds(5), 20, deadline)).isEqualTo(deadline);
    }
}
