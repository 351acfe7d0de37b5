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
import io.github.resilience4j.core.IntervalFunction;
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
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
 *   <li>a worker-wide hold after a 429 with {@code Retry-After}: every thread waits, not only
 *       the one that was told;</li>
 *   <li>one shared {@link RateLimiter} (a 429 also drains its current period), then a
 *       {@link SlidingWindow} that caps the calls actually started in any second;</li>
 *   <li>a {@link Retry} around all of it that retries only what is retryable, with exponential
 *       backoff and jitter, never sooner than {@code Retry-After}.</li>
 * </ol>
 */
final class ResilientTrack {
    private static final Logger log = LoggerFactory.getLogger(ResilientTrack.class);
    static final String NAME = "customerio-track";

    private final TrackClient client;
    private final RateLimiterRegistry limiters;
    private volatile RateLimiter limiter;
    private volatile int callsPerSecond;
    private volatile SlidingWindow window;
    private final Retry retry;
    private final CircuitBreaker breaker;
    private final MeterRegistry meters;
    private final Timer limiterWait;
    private final CredentialGate credentials;
    /** Meters are looked up once per (operation, status), not built on every call. */
    private final java.util.Map<String, Timer> callTimers = new java.util.concurrent.ConcurrentHashMap<>();
    /** System.nanoTime() before which no call may start (set by 429 + Retry-After). */
    private final AtomicLong holdUntilNanos = new AtomicLong(System.nanoTime());

    ResilientTrack(TrackClient client, TrackPolicy policy, MeterRegistry meters) {
        this.client = client;
        this.meters = meters;
        this.limiters = RateLimiterRegistry.of(rateLimiterConfig(policy.callsPerSecond()));
        this.limiter = limiters.rateLimiter(NAME);
        this.callsPerSecond = policy.callsPerSecond();
        this.window = new SlidingWindow(policy.callsPerSecond());
        IntervalFunction backoff = IntervalFunction.ofExponentialRandomBackoff(
                policy.initialBackoff(), 2.0, 0.5, policy.maxBackoff());
        long capMillis = policy.maxBackoff().toMillis();
        IntervalBiFunction<TrackResult> interval = (attempt, either) -> {
            long wait = backoff.apply(attempt);
            if (either.isRight() && either.get().retryAfter().isPresent()) {
                wait = Math.max(wait, either.get().retryAfter().get().toMillis());
            }
            return Math.min(wait, capMillis);
        };
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
                log.warn("Customer.io circuit breaker {} (failure rate {} %)", e.getStateTransition(),
                        breaker.getMetrics().getFailureRate()));
        TaggedRateLimiterMetrics.ofRateLimiterRegistry(limiters).bindTo(meters);
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(meters);
        this.credentials = new CredentialGate(client, policy.credentialProbeEvery(), meters);
        this.limiterWait = Timer.builder(MetricNames.RATE_LIMITER_WAIT)
                .description("Time Track calls waited for a rate-limit permit or a Retry-After hold")
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

    /**
     * Changes this instance's rate (e.g. its share of the group's limit after a rebalance). Calls
     * waiting for a permit of the old limiter finish on it; new calls use the new one.
     */
    void changeRate(int perSecond) {
        int rate = Math.max(1, perSecond);
        if (rate == callsPerSecond) {
            return;
        }
        RateLimiter next = RateLimiter.of(NAME, rateLimiterConfig(rate));
        limiters.replace(NAME, next);
        limiter = next;
        window = window.resized(rate);
        callsPerSecond = rate;
        log.info("Track call rate of this instance set to {}/s", rate);
    }

    int callsPerSecond() {
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
                boolean probe = credentials.awaitTurn();
                TrackResult r;
                try {
                    r = attempt(op, identifier);
                } catch (CancellationException e) {
                    credentials.abandonProbe(probe);
                    throw e;
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
        awaitBreaker();
        try {
            awaitPermit();
        } catch (CancellationException e) {
            breaker.releasePermission();
            throw e;
        }
        TrackResult r = op == TrackOperation.SUPPRESS ? client.suppress(identifier) : client.destroy(identifier);
        breaker.onResult(r.latency().toNanos(), TimeUnit.NANOSECONDS, r);
        if (r.status() == 429) {
            limiter.drainIfNeeded(Either.right(r));
            r.retryAfter().ifPresent(this::holdFor);
        }
        callTimers.computeIfAbsent(op.tag() + "|" + r.statusTag(), k -> Timer.builder(MetricNames.TRACK_CALLS)
                .description("Track API calls (each attempt) by operation and HTTP status")
                .tag("operation", op.tag())
                .tag("status", r.statusTag())
                .publishPercentileHistogram()
                .register(meters)).record(r.latency());
        return r;
    }

    private void holdFor(Duration d) {
        long until = System.nanoTime() + d.toNanos();
        holdUntilNanos.accumulateAndGet(until, Math::max);
    }

    /** While the breaker is open, wait (a probe will close it again) instead of failing. */
    private void awaitBreaker() {
        while (!breaker.tryAcquirePermission()) {
            sleep(Duration.ofMillis(100), "waiting for Customer.io to come back");
        }
    }

    private void awaitPermit() {
        long start = System.nanoTime();
        long hold;
        while ((hold = holdUntilNanos.get() - System.nanoTime()) > 0) {
            sleep(Duration.ofNanos(Math.min(hold, TimeUnit.MILLISECONDS.toNanos(200))), "holding for Retry-After");
        }
        while (true) {
            RateLimiter current = limiter;
            if (current.acquirePermission() && current == limiter) {
                break; // a permit from a limiter replaced meanwhile (rate changed) does not count
            }
            if (Thread.currentThread().isInterrupted()) {
                throw new CancellationException("shutting down while waiting for a rate-limit permit");
            }
        }
        long wait;
        while ((wait = window.tryStart(System.nanoTime())) > 0) {
            sleep(Duration.ofNanos(wait), "waiting for room in the one-second window");
        }
        limiterWait.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }

    private static void sleep(Duration d, String what) {
        try {
            Thread.sleep(Math.max(1, d.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("shutting down while " + what);
        }
    }

}
