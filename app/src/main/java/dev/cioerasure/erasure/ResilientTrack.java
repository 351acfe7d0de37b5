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
import io.github.resilience4j.core.functions.Either;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRateLimiterMetrics;
import io.github.resilience4j.micrometer.tagged.TaggedRetryMetrics;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RateLimiterRegistry;
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
 *   <li>one shared {@link RateLimiter} that spreads starts over short periods (a 429 also drains
 *       its current period), then the {@link ArrivalWindow} that guarantees a server counting
 *       arrivals in any one-second window never sees more than the limit;</li>
 *   <li>on a 429 the limit is lowered by 10 % (at most once a second, down to half) and raised
 *       back by 5 % every 5 s without one, so a server that counts differently (or traffic of
 *       others on the same workspace) is met in proportion: the call told to wait honours its
 *       {@code Retry-After}, the other threads go on at the lowered rate;</li>
 *   <li>a {@link Retry} around all of it that retries only what is retryable, with exponential
 *       backoff and jitter, never sooner than {@code Retry-After}.</li>
 * </ol>
 */
final class ResilientTrack implements Paced {
    private static final Logger log = LoggerFactory.getLogger(ResilientTrack.class);
    static final String NAME = "customerio-track";

    private final TrackClient client;
    private final RateLimiterRegistry limiters;
    private volatile RateLimiter limiter;
    private volatile int callsPerSecond;
    private final ArrivalWindow arrivals;
    /** The rate this instance was given (its grant from the group budget, or the configured limit). */
    private volatile int granted;
    private final int headroomPercent;
    /** Multiplier after 429s (AIMD), 0.5..1. */
    private volatile double factor = 1.0;
    private long last429Nanos = System.nanoTime() - TimeUnit.SECONDS.toNanos(60);
    private long lastRaiseNanos = System.nanoTime();
    private final AtomicInteger waiting = new AtomicInteger();
    /** The grant may be used until this nanoTime (a lease of the group budget); unlimited without one. */
    private volatile long grantValidUntil = Long.MAX_VALUE;
    private final io.micrometer.core.instrument.Counter backoffs;
    private final Retry retry;
    private final CircuitBreaker breaker;
    private final MeterRegistry meters;
    private final Timer limiterWait;
    private final CredentialGate credentials;
    /** Meters are looked up once per (operation, status), not built on every call. */
    private final Map<String, Timer> callTimers = new java.util.concurrent.ConcurrentHashMap<>();

    /** Whether calls wait while the workspace is paused (one workspace) or return {@link TrackResult.Kind#PAUSED} at once. */
    private final boolean waitWhilePaused;
    private final String workspaceLabel;
    /** Whether each call is paced here (v1), or the client paces its own requests (batches of many calls). */
    private final boolean paced;

    /**
     * @param workspace       the workspace's name, for log lines (null: the single workspace)
     * @param waitWhilePaused true: while Customer.io looks down or refuses the credentials, calls wait
     *                        (back-pressure pauses the consumer); false: they return PAUSED at once, so
     *                        that a paused workspace holds no thread other workspaces need
     */
    ResilientTrack(TrackClient client, TrackPolicy policy, MeterRegistry meters, String workspace, boolean waitWhilePaused) {
        this(client, policy, meters, workspace, waitWhilePaused, true);
    }

    /**
     * @param paced false when the client paces its own requests ({@link BatchingTrack}: a batch
     *              request carries many calls, and the budget counts requests)
     */
    ResilientTrack(TrackClient client, TrackPolicy policy, MeterRegistry meters, String workspace, boolean waitWhilePaused,
                   boolean paced) {
        this.paced = paced;
        this.waitWhilePaused = waitWhilePaused;
        this.workspaceLabel = workspace == null ? "" : " of workspace " + workspace;
        this.client = client;
        this.meters = meters;
        this.limiters = RateLimiterRegistry.of(rateLimiterConfig(policy.callsPerSecond()));
        this.limiter = limiters.rateLimiter(NAME);
        this.granted = policy.callsPerSecond();
        this.headroomPercent = policy.headroomPercent();
        this.arrivals = new ArrivalWindow(effective(policy.callsPerSecond(), policy.headroomPercent(), 1.0),
                policy.unansweredGrace().toNanos(), System::nanoTime);
        this.backoffs = io.micrometer.core.instrument.Counter.builder(MetricNames.RATE_BACKOFFS)
                .description("Times a 429 lowered this instance's rate by 10 %").register(meters);
        this.callsPerSecond = arrivals.limit();
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
        TaggedRateLimiterMetrics.ofRateLimiterRegistry(limiters).bindTo(meters);
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(meters);
        this.credentials = new CredentialGate(client, policy.credentialProbeEvery(), meters, workspaceLabel);
        this.limiterWait = Timer.builder(MetricNames.RATE_LIMITER_WAIT)
                .description("Time Track calls waited for a rate-limit permit and a slot of the arrival window")
                .publishPercentileHistogram()
                .register(meters);
    }

    /** 5xx, I/O errors and timeouts count towards opening the breaker; a 429 is pacing, not an outage. */
    private static boolean looksLikeOutage(Object result) {
        return result instanceof TrackResult r && r.isRetryable() && r.status() != 429;
    }

    /**
     * Spreads the limit over short periods so no burst of a whole second's permits goes out at
     * once: the largest number of periods per second (at least 10 ms each) that divides the rate.
     * A rate of 20 or more with no divisor of 5 or more is rounded down to a multiple of 10 (at most
     * 1 % lost for rates of 100 and more) so that it can be spread over 100 ms periods.
     */
    static RateLimiterConfig rateLimiterConfig(int perSecond) {
        int periods = 1;
        for (int d : new int[] {100, 50, 25, 20, 10, 5, 4, 2}) {
            if (perSecond % d == 0) {
                periods = d;
                break;
            }
        }
        int rate = perSecond;
        if (periods < 5 && perSecond >= 20) {
            rate = perSecond - perSecond % 10;
            periods = 10;
        }
        return RateLimiterConfig.custom()
                .limitForPeriod(rate / periods)
                .limitRefreshPeriod(Duration.ofMillis(1000L / periods))
                .timeoutDuration(Duration.ofMillis(500))
                .drainPermissionsOnResult(ResilientTrack::isTooManyRequests)
                .build();
    }

    /** The limit to pace to: the grant, less the configured headroom, times the 429 factor. */
    static int effective(int granted, int headroomPercent, double factor) {
        return (int) Math.floor(granted * (100 - headroomPercent) / 100.0 * factor);
    }

    /**
     * Changes the rate this instance was given (its grant of the group's budget), valid until the
     * given nanoTime (a lease that must be renewed). Calls waiting for a permit of the old limiter
     * finish on it; new calls use the new one.
     */
    @Override
    public void setGrant(int perSecond, long validUntilNanos) {
        grantValidUntil = validUntilNanos;
        granted = Math.max(0, perSecond);
        apply();
    }

    private synchronized void apply() {
        int rate = effective(granted, headroomPercent, factor);
        if (rate == callsPerSecond) {
            return;
        }
        arrivals.setLimit(rate);
        RateLimiter next = RateLimiter.of(NAME, rateLimiterConfig(Math.max(1, rate)));
        limiters.replace(NAME, next);
        limiter = next;
        callsPerSecond = rate;
        log.debug("Track call rate of this instance set to {}/s", rate);
    }

    /** A 429: lower the rate by 10 %, at most once a second, to no less than half. */
    private synchronized void tooManyRequests() {
        long now = System.nanoTime();
        if (now - last429Nanos > TimeUnit.SECONDS.toNanos(1) && factor > 0.5) {
            factor = Math.max(0.5, factor * 0.9);
            backoffs.increment();
            log.warn("Customer.io answered 429{}: Track rate of this instance lowered to {} % ({}/s)", workspaceLabel,
                    Math.round(factor * 100),
                    effective(granted, headroomPercent, factor));
            apply();
        }
        last429Nanos = now;
        lastRaiseNanos = now;
    }

    /** Five seconds without a 429: raise the rate by 5 % again, up to the grant. */
    private void maybeRaise() {
        if (factor >= 1.0) {
            return;
        }
        synchronized (this) {
            long now = System.nanoTime();
            if (factor < 1.0 && now - lastRaiseNanos > TimeUnit.SECONDS.toNanos(5)) {
                factor = Math.min(1.0, factor + 0.05);
                lastRaiseNanos = now;
                apply();
            }
        }
    }

    /** Slots of the arrival window held now (calls in flight or answered within the last second). */
    @Override
    public int occupied() {
        return arrivals.occupied();
    }

    /** Calls waiting for a permit now: demand beyond the current rate. */
    @Override
    public int waiting() {
        return waiting.get();
    }

    @Override
    public int callsPerSecond() {
        return callsPerSecond;
    }

    private static boolean isTooManyRequests(Either<? extends Throwable, ?> either) {
        return either.isRight() && either.get() instanceof TrackResult r && r.status() == 429;
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
            if (paced) {
                awaitPermit();
            }
        } catch (CancellationException e) {
            breaker.releasePermission();
            throw e;
        }
        TrackResult r;
        try {
            r = op == TrackOperation.SUPPRESS ? client.suppress(identifier) : client.destroy(identifier);
        } catch (RuntimeException e) {
            if (paced) {
                arrivals.finished(false);
            }
            breaker.releasePermission();
            throw e;
        }
        if (paced) {
            // the slot stays held for a second after the response (longer without one)
            arrivals.finished(r.status() > 0);
        }
        breaker.onResult(r.latency().toNanos(), TimeUnit.NANOSECONDS, r);
        if (r.status() == 429 && paced) {
            limiter.onResult(r);
            tooManyRequests();
        }
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

    private void awaitPermit() {
        long start = System.nanoTime();
        maybeRaise();
        waiting.incrementAndGet();
        try {
            while (true) {
                RateLimiter current = limiter;
                boolean leased = grantValidUntil == Long.MAX_VALUE || System.nanoTime() < grantValidUntil;
                if (callsPerSecond > 0 && leased && current.acquirePermission() && current == limiter) {
                    break; // a permit from a limiter replaced meanwhile (rate changed) does not count
                }
                if (callsPerSecond <= 0 || !leased) {
                    Backoff.sleep(Duration.ofMillis(20), "waiting for a share of the group's rate");
                }
                if (Thread.currentThread().isInterrupted()) {
                    throw new CancellationException("shutting down while waiting for a rate-limit permit");
                }
            }
            arrivals.acquire();
        } finally {
            waiting.decrementAndGet();
        }
        limiterWait.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
}
