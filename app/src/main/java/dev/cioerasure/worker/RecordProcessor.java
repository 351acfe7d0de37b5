package dev.cioerasure.worker;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.audit.AuditSink;
import dev.cioerasure.audit.FinalOutcomes;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.ErasureResult;
import dev.cioerasure.erasure.StepResult;
import dev.cioerasure.erasure.Workspaces;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.ParseResult;
import dev.cioerasure.request.Rejection;
import dev.cioerasure.request.RequestParser;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.MDC;
import org.slf4j.LoggerFactory;

/**
 * Turns one Kafka record into its audited outcome:
 * parse+validate → (REJECTED → audit + DLQ) | dedupe → suppress → destroy → audit.
 * A transient failure that outlasts the in-line retries is parked on the retry topic for a
 * later round ({@code RETRY_SCHEDULED}) so nothing behind it waits; after the last round it is
 * {@code FAILED} and dead-lettered. A permanent failure fails at once.
 * The returned future completes only when everything the outcome needs is durable (audit rows
 * committed, DLQ record acknowledged); it fails only with {@link CancellationException} on
 * shutdown, in which case nothing about the record is committed and it is redone.
 */
final class RecordProcessor {
    private static final Logger log = LoggerFactory.getLogger(RecordProcessor.class);

    private final RequestParser parser;
    private final SubjectHasher hasher;
    private final Workspaces workspaces;
    private final AuditSink audit;
    private final FinalOutcomes outcomes;
    private final Republisher republisher;
    private final List<Duration> retryDelays;
    /** The longest of them: a retry record is never held longer. */
    private final Duration longestRetryDelay;
    private final dev.cioerasure.config.Settings.Verification verification;
    private final OutcomeEvents events;
    private final ExecutorService pool;
    private final MeterRegistry meters;
    private final Clock clock;
    private final SubjectLanes lanes = new SubjectLanes();
    /**
     * Records of one request id, one after another too, whatever their subjects: the second sees
     * the first's outcome, and is a DUPLICATE or (another identifier) REQUEST_ID_REUSED. Side by
     * side, both were erased and the second recorded DUPLICATE, so its person read not erased.
     * A record takes its request id's lane first, then its subject's: nothing that holds a
     * subject's lane waits for a request id's, so the two cannot wait for each other.
     */
    private final SubjectLanes requestIdLanes = new SubjectLanes();
    private final Timer endToEnd;
    private final java.util.Map<Outcome, OutcomeMeters> outcomeMeters = new java.util.EnumMap<>(Outcome.class);

    private record OutcomeMeters(Counter count, Timer time) { }

    RecordProcessor(RequestParser parser, SubjectHasher hasher, ErasureExecutor executor, AuditSink audit,
                    FinalOutcomes outcomes, Republisher republisher, List<Duration> retryDelays, ExecutorService pool,
                    MeterRegistry meters, Clock clock) {
        this(parser, hasher, executor, audit, outcomes, republisher, retryDelays,
                dev.cioerasure.config.Settings.Verification.OFF, OutcomeEvents.NONE, pool, meters, clock);
    }

    /** The single workspace, named {@value dev.cioerasure.config.Settings.Workspace#DEFAULT_NAME}. */
    RecordProcessor(RequestParser parser, SubjectHasher hasher, ErasureExecutor executor, AuditSink audit,
                    FinalOutcomes outcomes, Republisher republisher, List<Duration> retryDelays,
                    dev.cioerasure.config.Settings.Verification verification, OutcomeEvents events, ExecutorService pool,
                    MeterRegistry meters, Clock clock) {
        this(parser, hasher, Workspaces.single(dev.cioerasure.config.Settings.Workspace.DEFAULT_NAME, executor, verification.enabled()),
                audit, outcomes, republisher, retryDelays, verification, events, pool, meters, clock);
    }

    /**
     * @param workspaces   where each request is erased: those it names, or all
     * @param verification when to check (the App API keys are the workspaces'): each workspace a
     *                     request completes in goes to the verification topic for its checks, or,
     *                     without a key, gets an UNVERIFIABLE row at once
     * @param events       where final outcomes are announced, once their rows are durable
     */
    RecordProcessor(RequestParser parser, SubjectHasher hasher, Workspaces workspaces, AuditSink audit,
                    FinalOutcomes outcomes, Republisher republisher, List<Duration> retryDelays,
                    dev.cioerasure.config.Settings.Verification verification, OutcomeEvents events, ExecutorService pool,
                    MeterRegistry meters, Clock clock) {
        this.retryDelays = List.copyOf(retryDelays);
        this.longestRetryDelay = retryDelays.stream().max(Duration::compareTo).orElse(Duration.ZERO);
        this.verification = verification;
        this.events = events;
        this.parser = parser;
        this.hasher = hasher;
        this.workspaces = workspaces;
        this.audit = audit;
        this.outcomes = outcomes;
        this.republisher = republisher;
        this.pool = pool;
        this.meters = meters;
        this.clock = clock;
        for (Outcome o : Outcome.RECORD_OUTCOMES) {
            outcomeMeters.put(o, new OutcomeMeters(
                    Counter.builder(MetricNames.REQUESTS).description("Requests by outcome (one per Kafka record)")
                            .tag("outcome", o.name()).register(meters),
                    Timer.builder(MetricNames.PROCESSING).description("From taking the record to its outcome being durable")
                            .tag("outcome", o.name()).publishPercentileHistogram().register(meters)));
        }
        this.endToEnd = Timer.builder(MetricNames.END_TO_END)
                .description("From the record's Kafka timestamp to its outcome being durable")
                .publishPercentileHistogram().register(meters);
    }

    CompletableFuture<Void> process(ConsumerRecord<byte[], byte[]> rec) {
        KafkaCoordinates where = new KafkaCoordinates(rec.topic(), rec.partition(), rec.offset());
        long startNanos = System.nanoTime();
        // A parked request was admitted when it arrived; a replay from the DLQ is checked as new.
        ParseResult parsed = rec instanceof HeapBreakingRecord.Unreadable u
                ? new ParseResult.Invalid(new Rejection(Rejection.Code.OVERSIZE, u.why()),
                        java.util.Optional.empty())
                : republisher.parkedByTheWorker(rec) ? parser.parseAdmitted(rec.value()) : parser.parse(rec.value());
        CompletableFuture<Outcome> outcome;
        if (parsed instanceof ParseResult.Invalid invalid) {
            outcome = reject(rec, where, invalid);
        } else {
            ErasureRequest request = ((ParseResult.Valid) parsed).request();
            String subject = hasher.hash(request.identifier());
            CompletableFuture<Outcome> result = new CompletableFuture<>();
            // No thread waits for the record: the look-up, the Track calls and the audit append each
            // answer later, and what follows runs on the thread that answered (none of it blocks).
            requestIdLanes.submit(request.requestId(), () -> lanes.submit(subject, () -> outcomes.standingAsync(request.requestId())
                    .thenCompose(standing -> decide(rec, request, subject, where, standing))
                    .thenCompose(d -> persist(rec, d))
                    .whenComplete((o, e) -> {
                        if (e != null) {
                            result.completeExceptionally(e);
                        } else {
                            result.complete(o);
                        }
                    })
                    .thenApply(o -> null)));
            outcome = result;
        }
        return outcome.thenAccept(o -> {
            if (o == null) {
                return; // a record redone: counted when it was first decided
            }
            outcomeMeters.get(o).count().increment();
            outcomeMeters.get(o).time().record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
            if (rec.timestamp() > 0) {
                endToEnd.record(Duration.between(Instant.ofEpochMilli(rec.timestamp()), clock.instant()).abs());
            }
        });
    }

    /**
     * Runs work with the record in the logging context (MDC {@code request_id}, {@code topic},
     * {@code partition}, {@code offset}: a validated request id and coordinates, never an
     * identifier), so every line it logs says which record it is about.
     */
    private static <T> T inContext(String requestId, KafkaCoordinates where, java.util.function.Supplier<T> work) {
        try (var id = MDC.putCloseable("request_id", requestId); var topic = MDC.putCloseable("topic", where.topic());
             var partition = MDC.putCloseable("partition", Integer.toString(where.partition()));
             var offset = MDC.putCloseable("offset", Long.toString(where.offset()))) {
            return work.get();
        }
    }

    /**
     * What to record for a valid request, and whether it also goes to the DLQ, is parked on the
     * retry topic (for the round it carries, or with the pauses in a row when it only waits for
     * paused workspaces; {@link #park()}), and which workspaces go to the
     * verification topic ({@code verify}; a null element: the unnamed workspace of a request
     * completed before workspaces existed). No {@code outcome}: the record had been decided
     * before, and is only redone (nothing to write or count).
     */
    private record Decision(List<AuditEvent> rows, Outcome outcome, String dlqReasonCode, String reason, String requestId,
                            int retryRound, int pauses, Instant notBefore, List<String> verify, List<AuditEvent> announce) {
        Decision(List<AuditEvent> rows, Outcome outcome, String dlqReasonCode, String reason, String requestId) {
            this(rows, outcome, dlqReasonCode, reason, requestId, 0, 0, null, List.of(), rows);
        }

        /** Parked on the retry topic: for a retry round, or waiting for paused workspaces (round 0 possible). */
        boolean park() {
            return retryRound > 0 || pauses > 0;
        }
    }

    private CompletableFuture<Outcome> reject(ConsumerRecord<byte[], byte[]> rec, KafkaCoordinates where, ParseResult.Invalid invalid) {
        String requestId = invalid.requestId().orElse(null);
        String reason = invalid.rejection().describe();
        log.warn("rejected {} (request {}): {}", where, requestId == null ? "unknown" : requestId, reason);
        AuditEvent row = new AuditEvent(requestId, null, null, Step.OUTCOME, Outcome.REJECTED, null, null, reason,
                null, null, null, null, where, clock.instant());
        CompletableFuture<Void> dlq = republisher.deadLetter(rec, invalid.rejection().code().name(), reason, requestId);
        CompletableFuture<Void> announced = audit.append(List.of(row)).thenComposeAsync(v -> events.announce(List.of(row)), pool);
        return CompletableFuture.allOf(announced, dlq).thenApply(v -> Outcome.REJECTED);
    }

    /**
     * @param standing the request's outcome so far: batched with other look-ups; while the database
     *                 is down it is not answered (the worker pauses, nothing is skipped)
     */
    private CompletableFuture<Decision> decide(ConsumerRecord<byte[], byte[]> rec, ErasureRequest r, String subject, KafkaCoordinates where,
                                               FinalOutcomes.Standing standing) {
        Decision duplicate = inContext(r.requestId(), where, () -> duplicate(rec, r, subject, where, standing));
        if (duplicate != null) {
            return CompletableFuture.completedFuture(duplicate);
        }
        // Only the workspaces not yet done: a later round (or a replay) erases only where it is still missing.
        return WorkspaceRound.run(workspaces, r, standing,
                        (step, outcome, status, attempts, why) -> row(r, subject, step, outcome, status, attempts, why, where))
                .thenApply(done -> inContext(r.requestId(), where, () -> conclude(rec, r, subject, where, done)));
    }

    /**
     * The decision for a request whose id already has a final outcome: REJECTED (REQUEST_ID_REUSED)
     * when that outcome is another identifier's, or a completed request's that this record names a
     * workspace beyond; else DUPLICATE (unless replayed); null when the request is to be erased.
     */
    private Decision duplicate(ConsumerRecord<byte[], byte[]> rec, ErasureRequest r, String subject, KafkaCoordinates where,
                               FinalOutcomes.Standing standing) {
        Optional<Outcome> previous = standing.outcome();
        if (standing.decidedForAnother(subject)) {
            // One ticket reused for a second person (or a second address of the same one), submitted
            // later: recorded DUPLICATE, nobody erased, and the request id read COMPLETED everywhere.
            return reused(r, subject, where, "the request id already has outcome " + previous.get() + " for another identifier; this one"
                    + " was not erased");
        }
        List<String> notErasedIn = previous.orElse(null) == Outcome.COMPLETED && !standing.completedWorkspaces().isEmpty()
                && !standing.outcomeRecords().contains(where.toString())
                ? workspaces.toDo(r.workspaces(), standing.completedWorkspaces()) : List.of();
        if (!notErasedIn.isEmpty()) {
            // The same person, the request sent again naming a workspace it was not erased in (or every
            // workspace, one of them added since): as a DUPLICATE that workspace kept the person.
            // (No WORKSPACE rows at all: a request completed before workspaces existed, migration V9.)
            return reused(r, subject, where, "the request id was completed in " + String.join(", ", new java.util.TreeSet<>(
                    standing.completedWorkspaces())) + "; this one names " + String.join(", ", notErasedIn) + " too, and was not"
                    + " erased there");
        }
        // Completed is final. Failed is final too, unless an operator replays the request from the DLQ.
        if (previous.isPresent() && (previous.get() == Outcome.COMPLETED || !republisher.isReplay(rec))) {
            // A completed request is verified again where its verification may be missing (a crash
            // between its rows and its verification record); a finished one is skipped.
            // Its final outcome is announced again too (the first announcement may have been lost in a crash).
            List<String> verify = previous.get() == Outcome.COMPLETED ? verifiable(standing.completedWorkspaces()) : List.of();
            List<AuditEvent> announce = List.of(row(r, subject, Step.OUTCOME, previous.get(), null, null, OutcomeEvents.REPEATED, where));
            if (standing.outcomeRecords().contains(where.toString())) {
                // This very record decided it: read again after a restart or a rebalance, before its
                // offset was committed. It was logged and counted as a DUPLICATE, which it is not
                // (the table, keeping one outcome per record, had already left its row out).
                log.info("request {} at {} was recorded {} by this record before (read again after a restart or a"
                        + " rebalance): nothing sent to Customer.io", r.requestId(), where, previous.get());
                return new Decision(List.of(), null, null, null, r.requestId(), 0, 0, null, verify, announce);
            }
            log.info("request {} at {} already {}: nothing sent to Customer.io (DUPLICATE)",
                    r.requestId(), where, previous.get());
            return new Decision(List.of(row(r, subject, Step.OUTCOME, Outcome.DUPLICATE, null, null,
                    "request id already has outcome " + previous.get(), where)), Outcome.DUPLICATE, null, null, r.requestId(), 0, 0,
                    null, verify, announce);
        }
        return null;
    }

    /** REJECTED (REQUEST_ID_REUSED): another erasure under the id of one that has its final outcome; nothing is sent. */
    private Decision reused(ErasureRequest r, String subject, KafkaCoordinates where, String what) {
        Rejection rejection = new Rejection(Rejection.Code.REQUEST_ID_REUSED, what + ": submit it under a request id of its own");
        String reason = rejection.describe();
        log.warn("rejected {} (request {}): {}", where, r.requestId(), reason);
        return new Decision(List.of(row(r, subject, Step.OUTCOME, Outcome.REJECTED, null, null, reason, where)), Outcome.REJECTED,
                rejection.code().name(), reason, r.requestId());
    }

    /** What the round's result means for the request: completed, parked for a later round, or failed. */
    private Decision conclude(ConsumerRecord<byte[], byte[]> rec, ErasureRequest r, String subject, KafkaCoordinates where,
                              WorkspaceRound done) {
        List<AuditEvent> rows = done.rows;
        if (done.complete()) {
            rows.add(row(r, subject, Step.OUTCOME, Outcome.COMPLETED, null, null, null, where));
            log.debug("request {} at {} completed", r.requestId(), where);
            // Verified once the request is complete, in each of its workspaces with an App API key,
            // also those it succeeded in during an earlier round. Those without a key get their
            // UNVERIFIABLE row now, after the OUTCOME row: a request's outcome event always comes
            // before its verification events, and a request that is not complete has none.
            List<String> ofRequest = workspaces.toDo(r.workspaces(), java.util.Set.of());
            for (String n : ofRequest) {
                if (!workspaces.get(n).verifiable()) {
                    rows.add(row(r, subject, Step.VERIFY, Outcome.UNVERIFIABLE, null, 0, VerificationProcessor.notConfiguredReason(), where)
                            .inWorkspace(n));
                }
            }
            List<String> verify = ofRequest.stream().filter(n -> workspaces.get(n).verifiable()).toList();
            return new Decision(rows, Outcome.COMPLETED, null, null, r.requestId(), 0, 0, null, verify, rows);
        }
        int round = republisher.round(rec);
        if (done.permanent.none() && done.exhausted.any() && round < retryDelays.size()) {
            // no sooner than the server asked (a Retry-After longer than the in-line backoff ends the in-line
            // retries), within the longest retry delay, which is as long as a retry record is ever held
            Duration asked = java.util.Collections.min(List.of(done.exhausted.longestRetryAfter(), longestRetryDelay));
            Duration delay = java.util.Collections.max(List.of(retryDelays.get(round), asked));
            String reason = done.exhausted.describe() + done.paused.describe("; paused: ") + "; retry round " + (round + 1) + " of "
                    + retryDelays.size() + " after " + delay;
            return parked(rows, r, subject, where, done.exhausted.first(), round + 1, delay, reason, 0);
        }
        if (done.permanent.none() && done.exhausted.none()) {
            // Only paused workspaces (Customer.io down, or refusing their key): not the request's fault,
            // so no retry round is used up. It is looked at again after the retry delays in turn
            // (1m, 5m, 15m by default), at most MAX_PAUSED_WAIT apart: a long outage writes a row
            // per request every quarter of an hour, not every minute, and work resumes soon after it.
            int pauses = republisher.pauses(rec) + 1;
            Duration delay = pausedWait(pauses);
            String reason = done.paused.describe() + "; not a retry round (paused " + pauses + " time" + (pauses == 1 ? "" : "s")
                    + " in a row), again after " + delay;
            return parked(rows, r, subject, where, done.paused.first(), round, delay, reason, pauses);
        }
        String gaveUp = "; gave up after " + retryDelays.size() + " retry round" + (retryDelays.size() == 1 ? "" : "s");
        ErasureResult.Verdict verdict;
        WorkspaceRound.Shortfall first;
        String reason;
        if (done.permanent.any()) {
            verdict = ErasureResult.Verdict.PERMANENT_FAILURE;
            first = done.permanent;
            reason = first.describe() + done.exhausted.describe("; also not done (retryable): ");
        } else {
            verdict = ErasureResult.Verdict.RETRIES_EXHAUSTED;
            first = done.exhausted;
            reason = first.describe() + gaveUp;
            done.giveUp(gaveUp);
        }
        reason += done.paused.describe("; also not done (paused): ");
        StepResult failed = first.first().failedStep();
        rows.add(row(r, subject, Step.OUTCOME, Outcome.FAILED, WorkspaceRound.statusOrNull(failed.last()), failed.attempts(), reason, where));
        log.warn("request {} at {} FAILED: {}", r.requestId(), where, reason);
        return new Decision(rows, Outcome.FAILED, verdict.name(), reason, r.requestId());
    }

    /** The longest wait between two looks at a request that waits for paused workspaces. */
    static final Duration MAX_PAUSED_WAIT = Duration.ofMinutes(15);

    /** The wait after the n-th pause in a row: the n-th retry delay, at most {@link #MAX_PAUSED_WAIT} (that, without retry delays). */
    Duration pausedWait(int pauses) {
        Duration d = retryDelays.isEmpty() ? MAX_PAUSED_WAIT : retryDelays.get(Math.min(pauses, retryDelays.size()) - 1);
        return d.compareTo(MAX_PAUSED_WAIT) > 0 ? MAX_PAUSED_WAIT : d;
    }

    /** @param pauses the pauses in a row when the request waits for paused workspaces only; 0 for a retry round */
    private Decision parked(List<AuditEvent> rows, ErasureRequest r, String subject, KafkaCoordinates where, ErasureResult first,
                            int nextRound, Duration delay, String reason, int pauses) {
        StepResult failed = first.failedStep();
        rows.add(row(r, subject, Step.OUTCOME, Outcome.RETRY_SCHEDULED, WorkspaceRound.statusOrNull(failed.last()), failed.attempts(),
                reason, where));
        if (pauses == 0) {
            log.warn("request {} at {} parked: {}", r.requestId(), where, reason);
        } else {
            // waiting for a paused workspace: its breaker and credential gate say so once, not every request every round
            log.debug("request {} at {} parked: {}", r.requestId(), where, reason);
        }
        return new Decision(rows, Outcome.RETRY_SCHEDULED, null, reason, r.requestId(), nextRound, pauses,
                clock.instant().plus(delay), List.of(), rows);
    }

    /** The workspaces (among those completed) whose verification may be missing; for a request from before workspaces, the unnamed one. */
    private List<String> verifiable(java.util.Set<String> completed) {
        if (completed.isEmpty()) {
            return workspaces.several() || !workspaces.all().get(0).verifiable() ? List.of() : java.util.Collections.singletonList(null);
        }
        return workspaces.names().stream().filter(completed::contains).filter(n -> workspaces.get(n).verifiable()).toList();
    }

    private CompletableFuture<Outcome> persist(ConsumerRecord<byte[], byte[]> rec, Decision d) {
        CompletableFuture<Void> durable = d.rows().isEmpty() ? CompletableFuture.completedFuture(null) : audit.append(d.rows());
        // Announced only once durable; the record is done only once announced. Sent from the pool:
        // never from the audit writer's thread (a send waiting for metadata would hold every append).
        CompletableFuture<Void> written = durable.thenCompose(v -> announceable(d)).thenComposeAsync(events::announce, pool);
        CompletableFuture<Void> moved;
        if (d.park() || d.dlqReasonCode() != null) {
            // Sent from the pool: this runs on the thread that answered the record's look-up or its
            // batch, which answers many records and must not wait for a topic's metadata.
            moved = CompletableFuture.supplyAsync(() -> move(rec, d), pool).thenCompose(f -> f);
        } else if (!d.verify().isEmpty()) {
            Instant completed = clock.instant();
            // After the rows: the verification records are only sent once the COMPLETED rows are durable.
            // On the pool: `written` may complete on the producer's I/O thread, which must never
            // send itself (a send waiting for metadata would wait for that very thread).
            moved = written.thenComposeAsync(v -> CompletableFuture.allOf(d.verify().stream()
                    .map(w -> republisher.verifyLater(rec, d.requestId(), w, 0, VerificationProcessor.firstCheck(verification, completed),
                            completed.plus(verification.deadline()), "none", null))
                    .toArray(CompletableFuture[]::new)), pool);
        } else {
            return written.thenApply(v -> d.outcome());
        }
        return CompletableFuture.allOf(written, moved).thenApply(v -> d.outcome());
    }

    /**
     * The rows to announce once durable. A FAILED is left out when the request id is COMPLETED by
     * then: another record of it (a copy, or another person's under a reused id, run at the same
     * time in another instance) completed it first, and the table stored this FAILED as a
     * DUPLICATE (migration V17), or completed it just after. Announced, the FAILED could reach a
     * platform before that record's COMPLETED, and close the ticket as failed for a request the
     * table holds COMPLETED. Asked only for a FAILED: the rare case, so no look-up per erasure.
     */
    private CompletableFuture<List<AuditEvent>> announceable(Decision d) {
        if (!events.enabled() || d.requestId() == null
                || d.announce().stream().noneMatch(r -> r.step() == Step.OUTCOME && r.outcome() == Outcome.FAILED)) {
            return CompletableFuture.completedFuture(d.announce());
        }
        return outcomes.standingAsync(d.requestId()).thenApply(now -> {
            if (now.outcome().orElse(null) != Outcome.COMPLETED) {
                return d.announce();
            }
            log.info("request {} failed here but was completed by another record of its id meanwhile: its FAILED is not announced",
                    d.requestId());
            return d.announce().stream().filter(r -> !(r.step() == Step.OUTCOME && r.outcome() == Outcome.FAILED)).toList();
        });
    }

    /** Parks the record on the retry topic, or dead-letters it, as decided. */
    private CompletableFuture<Void> move(ConsumerRecord<byte[], byte[]> rec, Decision d) {
        if (d.park() && d.pauses() > 0) {
            return republisher.parkWhilePaused(rec, d.retryRound(), d.pauses(), d.notBefore(), d.reason(), d.requestId());
        }
        if (d.park()) {
            return republisher.park(rec, d.retryRound(), d.notBefore(), d.reason(), d.requestId());
        }
        return republisher.deadLetter(rec, d.dlqReasonCode(), d.reason(), d.requestId());
    }

    private AuditEvent row(ErasureRequest r, String subject, Step step, Outcome outcome, Integer status, Integer attempts,
                           String reason, KafkaCoordinates where) {
        return new AuditEvent(r.requestId(), subject, r.identifier().type().wireName(), step, outcome, status, attempts,
                reason, r.regulation().name(), r.requestedAt(), r.deadline(), r.requestedBy(), where, clock.instant());
    }

    /** Stops the workspaces' own senders (batches); after the pool, when nothing calls them any more. */
    void close() {
        workspaces.close();
    }
}
