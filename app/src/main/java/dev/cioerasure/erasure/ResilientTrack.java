package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.request.Identifier;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.core.IntervalBiFunction;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.github.resilience4j.retry.RetryRegistry;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every Track call passes, in this order, through:
 * <ol>
 *   <li>the {@link CredentialGate}: refused credentials pause everything instead of failing requests;</li>
 *   <li>a resilience4j {@link CircuitBreaker}: when most recent calls failed with 5xx/IO/timeouts
 *       (Customer.io is down) it opens and callers <em>wait</em> — they do not fail — until a
 *       few probe calls show it is back, so an outage costs probes, not thousands of failed
 *       requests, and the consumer pauses through back-pressure;</li>
 *   <li>its {@link CallPacing}: v1's {@link CallPacer} (the group's grant, a rate limiter, the
 *       arrival window, a lower rate after a 429), or none when the client paces its own
 *       requests ({@link BatchingTrack});</li>
 *   <li>a {@link Retry} around all of it that retries only what is retryable, with exponential
 *       backoff and jitter, never sooner than {@code Retry-After}.</li>
 * </ol>
 */
final class ResilientTrack {
    private static final Logger log = LoggerFactory.getLogger(ResilientTrack.class);
    static final String NAME = "customerio-track";

    private final TrackClient client;
    private final CallPacing pacing;
    private final Retry retry;
    private final CircuitBreaker breaker;
    private final MeterRegistry meters;
    private final CredentialGate credentials;
    /** Meters are looked up once per (operation, status), not built on every call. */
    private final Map<String, Timer> callTimers = new java.util.concurrent.ConcurrentHashMap<>();

    /** Whether calls wait while the workspace is paused (one workspace) or return {@link TrackResult.Kind#PAUSED} at once. */
    private final boolean waitWhilePaused;
    private final String workspaceLabel;

    /**
     * @param workspace       the workspace's name, for log lines (null: the single workspace)
     * @param waitWhilePaused true: while Customer.io looks down or refuses the credentials, calls wait
     *                        (back-pressure pauses the consumer); false: they return PAUSED at once, so
     *                        that a paused workspace holds no thread other workspaces need
     * @param pacing          how each call is paced: v1's {@link CallPacer}, or
     *                        {@link CallPacing#BY_THE_CLIENT} when the client paces its own requests
     *                        ({@link BatchingTrack}: a batch request carries many calls, and the
     *                        budget counts requests)
     */
    ResilientTrack(TrackClient client, TrackPolicy policy, MeterRegistry meters, String workspace, boolean waitWhilePaused,
                   CallPacing pacing) {
        this.pacing = pacing;
        this.waitWhilePaused = waitWhilePaused;
        this.workspaceLabel = label(workspace);
        this.client = client;
        this.meters = meters;
        IntervalBiFunction<TrackResult> interval = Backoff.honouringRetryAfter(policy.initialBackoff(), policy.maxBackoff(),
                TrackResult::retryAfter);
        RetryRegistry retries = RetryRegistry.of(RetryConfig.<TrackResult>custom()
                .maxAttempts(policy.maxAttempts())
                .retryOnResult(TrackResult::isRetryable)
                .retryOnException(e -> false) // the client never throws; an abort (shutdown) must not be retried
                .intervalBiFunction(interval)
                .build());
        this.retry = retries.retry(NAME);
        CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                // The last 100 calls, at least 50: a short burst of reset connections is not an outage,
                // while a real one opens it after about 50 failing calls. (A time-based window would
                // still hold the successes from before the outage and open seconds too late.)
                .slidingWindow(100, 50, CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(50)
                .recordResult(ResilientTrack::looksLikeOutage)
                .waitDurationInOpenState(policy.breakerOpenFor())
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .permittedNumberOfCallsInHalfOpenState(3)
                .build());
        this.breaker = breakers.circuitBreaker(NAME);
        breaker.getEventPublisher().onStateTransition(e ->
                log.warn("Customer.io circuit breaker{}: {}", workspaceLabel,
                        BreakerTransitions.describe(e.getStateTransition(), breaker.getMetrics())));
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(meters);
        this.credentials = new CredentialGate(client, policy.credentialProbeEvery(), meters, workspaceLabel);
    }

    /** " of workspace …" for log lines, or nothing for the single workspace (null). */
    static String label(String workspace) {
        return workspace == null ? "" : " of workspace " + workspace;
    }

    /** 5xx, I/O errors and timeouts count towards opening the breaker; a 429 is pacing, not an outage. */
    private static boolean looksLikeOutage(Object result) {
        return result instanceof TrackResult r && r.isRetryable() && r.status() != 429;
    }

    /**
     * Runs one step with pacing and retries.
     *
     * @throws CancellationException when the thread is interrupted (shutdown): the step's outcome
     *                               is unknown and the request must be handed back, not audited
     */
    StepResult call(TrackOperation op, Identifier identifier) {
        AtomicInteger attempts = new AtomicInteger();
        TrackResult last = retry.executeSupplier(() -> {
            boolean reloaded = false;
            while (true) {
                CredentialGate.Turn turn = credentials.turn(waitWhilePaused);
                if (turn == CredentialGate.Turn.CLOSED) {
                    return TrackResult.paused(op, "credentials refused");
                }
                boolean probe = turn == CredentialGate.Turn.PROBE;
                TrackResult r;
                try {
                    r = attempt(op, identifier);
                } catch (CancellationException e) {
                    credentials.abandonProbe(probe);
                    throw e;
                }
                if (r.kind() == TrackResult.Kind.PAUSED) {
                    credentials.abandonProbe(probe);
                    return r;
                }
                attempts.incrementAndGet();
                if (!credentials.afterCall(r, probe, reloaded)) {
                    return r;
                }
                reloaded = true; // refused credentials: never a failure of this request; wait and call again
            }
        });
        return new StepResult(last, attempts.get());
    }

    private TrackResult attempt(TrackOperation op, Identifier identifier) {
        if (!awaitBreaker()) {
            return TrackResult.paused(op, "circuit open");
        }
        try {
            pacing.beforeCall();
        } catch (CancellationException e) {
            breaker.releasePermission();
            throw e;
        }
        TrackResult r;
        try {
            r = op == TrackOperation.SUPPRESS ? client.suppress(identifier) : client.destroy(identifier);
        } catch (RuntimeException e) {
            pacing.callFailed();
            breaker.releasePermission();
            throw e;
        }
        pacing.afterCall(r);
        breaker.onResult(r.latency().toNanos(), TimeUnit.NANOSECONDS, r);
        callTimers.computeIfAbsent(op.tag() + "|" + r.statusTag(), k -> Timer.builder(MetricNames.TRACK_CALLS)
                .description("Track API calls (each attempt) by operation and HTTP status")
                .tag("operation", op.tag())
                .tag("status", r.statusTag())
                .publishPercentileHistogram()
                .register(meters)).record(r.latency());
        return r;
    }

    /**
     * While the breaker is open, wait (a probe will close it again) instead of failing; or, when
     * calls do not wait while paused, return false at once.
     */
    private boolean awaitBreaker() {
        while (!breaker.tryAcquirePermission()) {
            if (!waitWhilePaused) {
                return false;
            }
            Backoff.sleep(Duration.ofMillis(100), "waiting for Customer.io to come back");
        }
        return true;
    }
}
