package dev.cioerasure.worker;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditLog.VerificationStanding;
import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.audit.AuditSink;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Settings;
import dev.cioerasure.customerio.PresenceResult;
import dev.cioerasure.erasure.VerificationExecutor;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.ParseResult;
import dev.cioerasure.request.RequestParser;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks, through the App API, that a COMPLETED request's person is gone, one check per record
 * of the verification topic, and records the result as the request's VERIFY row:
 * <ul>
 *   <li>{@code VERIFIED}: the App API answered 404 (no such person);</li>
 *   <li>{@code STILL_PRESENT}: at the verification deadline the last answer said the person exists;</li>
 *   <li>{@code UNVERIFIABLE}: no check got an answer before the deadline, or the App API refused
 *       the question itself (a 4xx other than 401/403/404/408/429).</li>
 * </ul>
 * Until the deadline, a person still present (Customer.io deletes asynchronously) or a check
 * without an answer puts the record back on the verification topic for the next check, each
 * one twice as long after the one before (capped at one hour, the last one at the deadline).
 * The returned future completes when the row is durable or the next check is acknowledged by
 * Kafka; only then is the record's offset committed, so a crash repeats a check, never loses
 * one (a second VERIFY row for a request is skipped by the database).
 */
final class VerificationProcessor {
    private static final Logger log = LoggerFactory.getLogger(VerificationProcessor.class);

    private final RequestParser parser;
    private final SubjectHasher hasher;
    /** The App API check of each workspace with an App API key, by name. */
    private final Map<String, VerificationExecutor> executors;
    /** The workspace of records without a workspace header (written before workspaces existed), or null. */
    private final String unnamedWorkspace;
    /** The workspace tag of a result whose workspace is not known (no workspace name can contain parentheses). */
    static final String UNKNOWN_WORKSPACE = "(unknown)";
    private final AuditSink audit;
    private final Standings standings;
    private final Republisher republisher;
    private final OutcomeEvents events;
    private final Settings.Verification settings;
    private final ExecutorService pool;
    private final Clock clock;
    private final MeterRegistry meters;
    private final Map<PresenceResult.Kind, Counter> checks = new EnumMap<>(PresenceResult.Kind.class);
    private final Counter ignored;

    /** Where a request's verification stands in the audit table ({@link dev.cioerasure.audit.AuditLog#verificationStanding}). */
    @FunctionalInterface
    interface Standings {
        VerificationStanding of(String requestId, String subjectHash, String workspace) throws java.sql.SQLException;
    }

    /**
     * @param executors        the checks of each workspace with an App API key
     * @param unnamedWorkspace the workspace records without a workspace header are about (the single
     *                         configured one), or null when several are configured
     * @param standings        whether a request is completed for the record's person and already has its
     *                         VERIFY row in a workspace (null: the row without a workspace); a check is
     *                         made only when it is completed and has none
     * @param pool             runs the checks (apart from the erasures' pool)
     */
    VerificationProcessor(RequestParser parser, SubjectHasher hasher, Map<String, VerificationExecutor> executors,
                          String unnamedWorkspace, AuditSink audit, Standings standings,
                          Republisher republisher, OutcomeEvents events, Settings.Verification settings, ExecutorService pool,
                          MeterRegistry meters, Clock clock) {
        this.events = events;
        this.parser = parser;
        this.hasher = hasher;
        this.executors = Map.copyOf(executors);
        this.unnamedWorkspace = unnamedWorkspace;
        this.audit = audit;
        this.standings = standings;
        this.republisher = republisher;
        this.settings = settings;
        this.pool = pool;
        this.clock = clock;
        this.meters = meters;
        registerMeters(meters, executors.keySet());
        for (PresenceResult.Kind k : PresenceResult.Kind.values()) {
            checks.put(k, meters.counter(MetricNames.VERIFICATION_CHECKS, "result", resultTag(k)));
        }
        this.ignored = meters.counter(MetricNames.VERIFICATION_CHECKS, "result", "ignored");
    }

    private static String resultTag(PresenceResult.Kind k) {
        return switch (k) {
            case GONE -> "gone";
            case PRESENT -> "present";
            default -> "error";
        };
    }

    /**
     * The verification counters, at 0 from the start so that alerts see the first result; also
     * without an App API key (they then stay at 0: the UNVERIFIABLE rows saying so are not
     * results of a check).
     */
    static void registerMeters(MeterRegistry meters, java.util.Collection<String> workspaces) {
        for (String w : workspaces) {
            for (Outcome o : Outcome.VERIFICATION_OUTCOMES) {
                result(meters, o, w);
            }
        }
        for (String result : new String[] {"gone", "present", "error", "ignored"}) {
            Counter.builder(MetricNames.VERIFICATION_CHECKS)
                    .description("Checks of a person's presence (each may take several App API attempts) by result")
                    .tag("result", result).register(meters);
        }
    }

    /** The counter of VERIFY rows with this outcome in this workspace. */
    private static Counter result(MeterRegistry meters, Outcome o, String workspace) {
        return Counter.builder(MetricNames.VERIFICATIONS).description("Results of verification checks (VERIFY rows) by outcome and workspace")
                .tag("outcome", o.name()).tag("workspace", workspace).register(meters);
    }

    /** The longest wait before a check this worker sets: the first one's, or the longest between two. */
    Duration longestWait() {
        return settings.firstCheckAfter().compareTo(Settings.Verification.MAX_INTERVAL) > 0 ? settings.firstCheckAfter()
                : Settings.Verification.MAX_INTERVAL;
    }

    /** When the first check of a request completed at {@code completedAt} is due. */
    static Instant firstCheck(Settings.Verification v, Instant completedAt) {
        return completedAt.plus(v.firstCheckAfter());
    }

    /**
     * When the check after {@code checksMade} checks is due: the first interval doubled per
     * check, capped at {@link Settings.Verification#MAX_INTERVAL}, never after the deadline.
     */
    static Instant nextCheck(Settings.Verification v, Instant now, int checksMade, Instant deadline) {
        Duration wait = v.firstCheckAfter();
        for (int i = 0; i < checksMade && wait.compareTo(Settings.Verification.MAX_INTERVAL) < 0; i++) {
            wait = wait.multipliedBy(2);
        }
        if (wait.compareTo(Settings.Verification.MAX_INTERVAL) > 0) {
            wait = Settings.Verification.MAX_INTERVAL;
        }
        Instant next = now.plus(wait);
        return next.isAfter(deadline) ? deadline : next;
    }

    CompletableFuture<Void> process(ConsumerRecord<byte[], byte[]> rec) {
        KafkaCoordinates where = new KafkaCoordinates(rec.topic(), rec.partition(), rec.offset());
        ParseResult parsed = parser.parseAdmitted(rec.value()); // a request the worker erased
        Optional<Long> deadlineMillis = TopicHeaders.valid(rec.headers(), TopicHeaders.VERIFY_DEADLINE).map(Long::parseLong);
        if (!(parsed instanceof ParseResult.Valid valid) || deadlineMillis.isEmpty()) {
            // Only the worker writes this topic; anything else there is not a verification to make.
            log.warn("verification record {} is not one the worker wrote (no valid request or deadline); skipped", where);
            ignored.increment();
            return CompletableFuture.completedFuture(null);
        }
        ErasureRequest request = valid.request();
        int made = TopicHeaders.valid(rec.headers(), TopicHeaders.VERIFY_CHECKS).map(Integer::parseInt).orElse(0);
        String lastSeen = TopicHeaders.valid(rec.headers(), TopicHeaders.VERIFY_LAST).orElse("none");
        Instant deadline = Instant.ofEpochMilli(deadlineMillis.get());
        // The row names the header's workspace; a record without one (written before workspaces)
        // gets a row without one too, so that it meets an earlier VERIFY row of the request.
        String workspace = TopicHeaders.valid(rec.headers(), TopicHeaders.VERIFY_WORKSPACE).orElse(null);
        VerificationExecutor executor = executors.get(workspace != null ? workspace : String.valueOf(unnamedWorkspace));
        // With several workspaces a record written before workspaces existed cannot say which one it is about.
        boolean whichUnknown = workspace == null && unnamedWorkspace == null;
        String subject = hasher.hash(request.identifier());
        return CompletableFuture.supplyAsync(() -> standing(request.requestId(), subject, workspace), pool).thenCompose(standing -> {
            if (standing == VerificationStanding.DONE) {
                log.debug("request {} already verified; check at {} skipped", request.requestId(), where);
                return CompletableFuture.completedFuture(null);
            }
            if (standing == VerificationStanding.ERASED_BESIDE) {
                // the worker's own record, not a forgery: said as such, and not counted as ignored
                log.info("verification record {} (request {}): this person's record ran beside the request's completion for another"
                        + " identifier (stored as a duplicate); the request's verification is that person's, this one is not checked",
                        where, request.requestId());
                return CompletableFuture.completedFuture(null);
            }
            if (standing == VerificationStanding.NOT_ERASED) {
                // Only the worker writes this topic, after the COMPLETED rows; a record they do not
                // back would otherwise write a VERIFIED row for someone never erased, in place of
                // the request's real verification.
                log.warn("verification record {} (request {}) is not backed by the audit table: no COMPLETED outcome for this"
                        + " person{}; skipped", where, request.requestId(), workspace == null ? "" : " in workspace " + workspace);
                ignored.increment();
                return CompletableFuture.completedFuture(null);
            }
            if (whichUnknown) {
                return record(request, where, null, Outcome.UNVERIFIABLE, null, made, "this check was scheduled before workspaces"
                        + " were configured; with several workspaces it cannot tell which one to look in");
            }
            if (executor == null) {
                return record(request, where, workspace, Outcome.UNVERIFIABLE, null, made,
                        "workspace " + (workspace == null ? unnamedWorkspace : workspace) + " has no App API key configured any more");
            }
            return CompletableFuture.supplyAsync(() -> executor.check(request.identifier()), pool)
                    .thenCompose(c -> after(rec, where, workspace, request, made + 1, lastSeen, c, deadline));
        });
    }

    private CompletableFuture<Void> after(ConsumerRecord<byte[], byte[]> rec, KafkaCoordinates where, String workspace,
                                          ErasureRequest r, int made, String lastSeen, VerificationExecutor.Check c, Instant deadline) {
        PresenceResult p = c.last();
        checks.get(p.kind()).increment();
        Instant now = clock.instant();
        String seen = p.kind() == PresenceResult.Kind.PRESENT ? "present" : p.isAnswer() ? "gone" : "error";
        if (p.kind() == PresenceResult.Kind.GONE) {
            return record(r, where, workspace, Outcome.VERIFIED, p.status(), made,
                    "App API: no such person (404) at check " + made);
        }
        if (p.kind() == PresenceResult.Kind.PERMANENT) {
            return record(r, where, workspace, Outcome.UNVERIFIABLE, p.status(), made,
                    "App API refused the look-up (" + p.detail() + "); asking again would not help");
        }
        if (now.isBefore(deadline)) {
            Instant next = nextCheck(settings, now, made, deadline);
            Instant asked = p.retryAfter().map(now::plus).orElse(now);
            if (asked.isAfter(next)) {
                // a Retry-After longer than the in-line backoff ended the check's retries: no sooner than asked
                next = asked.isAfter(deadline) ? deadline : asked;
            }
            log.debug("request {}: check {} found the person {}; next check at {}", r.requestId(), made, seen, next);
            return republisher.verifyLater(rec, r.requestId(), workspace, made, next, deadline, seen, p.statusTag());
        }
        boolean present = p.kind() == PresenceResult.Kind.PRESENT || "present".equals(lastSeen);
        if (present) {
            log.error("request {}: the person is STILL PRESENT in Customer.io at the verification deadline ({} checks): a"
                    + " compliance incident", r.requestId(), made);
            return record(r, where, workspace, Outcome.STILL_PRESENT, p.status() > 0 ? p.status() : null, made,
                    "the App API still found the person at the verification deadline (check " + made + ")"
                            + (p.kind() == PresenceResult.Kind.PRESENT ? "" : " (last check: " + p.detail() + ")"));
        }
        log.warn("request {}: verification gave up at the deadline, no check got an answer (last: {})", r.requestId(), p.detail());
        return record(r, where, workspace, Outcome.UNVERIFIABLE, p.status() > 0 ? p.status() : null, made,
                "no answer from the App API before the verification deadline (" + made + " checks, last: " + p.detail() + ")");
    }

    private CompletableFuture<Void> record(ErasureRequest r, KafkaCoordinates where, String workspace, Outcome outcome, Integer status,
                                           int checksMade, String reason) {
        AuditEvent row = new AuditEvent(r.requestId(), hasher.hash(r.identifier()), r.identifier().type().wireName(), Step.VERIFY,
                outcome, status, checksMade, reason, r.regulation().name(), r.requestedAt(), r.deadline(), r.requestedBy(), where,
                clock.instant(), workspace);
        String counted = workspace != null ? workspace : unnamedWorkspace != null ? unnamedWorkspace : UNKNOWN_WORKSPACE;
        return audit.append(List.of(row)).thenRun(() -> result(meters, outcome, counted).increment())
                .thenComposeAsync(v -> events.announce(List.of(row)), pool); // not on the audit writer's thread
    }

    private VerificationStanding standing(String requestId, String subject, String workspace) {
        try {
            return standings.of(requestId, subject, workspace);
        } catch (java.sql.SQLException e) {
            // not knowing is not a reason to check: the record is tried again (ErasureWorker)
            throw new IllegalStateException("audit table not readable (SQLState " + e.getSQLState() + ")", e);
        }
    }

    /** Stops the checks (interrupted ones are handed back, not recorded). */
    void close() {
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The VERIFY row of a completed request when there is no App API key: it says why nothing was checked. */
    static String notConfiguredReason() {
        return "no App API key configured (CUSTOMERIO_APP_API_KEY or the workspace's app_api_key_file): the person's absence was not checked";
    }
}
