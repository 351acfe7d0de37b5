package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.request.Identifier;
import io.github.resilience4j.core.IntervalBiFunction;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.core.functions.Either;
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

/**
 * Every Track call passes through one shared resilience4j {@link RateLimiter} (so the whole
 * instance stays under the limit) and a {@link Retry} that retries only what is retryable,
 * with exponential backoff and jitter, honouring {@code Retry-After}. A 429 drains the current
 * rate-limit cycle, slowing every thread at once rather than one at a time.
 */
final class ResilientTrack {
    static final String NAME = "customerio-track";

    private final TrackClient client;
    private final RateLimiter limiter;
    private final Retry retry;
    private final MeterRegistry meters;
    private final Timer limiterWait;

    ResilientTrack(TrackClient client, TrackPolicy policy, MeterRegistry meters) {
        this.client = client;
        this.meters = meters;
        RateLimiterRegistry limiters = RateLimiterRegistry.of(rateLimiterConfig(policy.callsPerSecond()));
        this.limiter = limiters.rateLimiter(NAME);
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
        TaggedRateLimiterMetrics.ofRateLimiterRegistry(limiters).bindTo(meters);
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
        this.limiterWait = Timer.builder(MetricNames.RATE_LIMITER_WAIT)
                .description("Time Track calls waited for a rate-limiter permit")
                .publishPercentileHistogram()
                .register(meters);
    }

    /**
     * Spreads the limit over short periods so no burst of a whole second's permits goes out at
     * once: the largest number of periods per second (at least 10 ms each) that divides the rate.
     */
    static RateLimiterConfig rateLimiterConfig(int perSecond) {
        int periods = 1;
        for (int d : new int[] {100, 50, 25, 20, 10, 5, 4, 2}) {
            if (perSecond % d == 0) {
                periods = d;
                break;
            }
        }
        return RateLimiterConfig.custom()
                .limitForPeriod(perSecond / periods)
                .limitRefreshPeriod(Duration.ofMillis(1000L / periods))
                .timeoutDuration(Duration.ofSeconds(5))
                .drainPermissionsOnResult(ResilientTrack::isTooManyRequests)
                .build();
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
            if (Thread.currentThread().isInterrupted()) {
                throw new CancellationException("shutting down between attempts");
            }
            acquirePermit();
            attempts.incrementAndGet();
            TrackResult r = op == TrackOperation.SUPPRESS ? client.suppress(identifier) : client.destroy(identifier);
            limiter.drainIfNeeded(Either.right(r));
            Timer.builder(MetricNames.TRACK_CALLS)
                    .description("Track API calls (each attempt) by operation and HTTP status")
                    .tag("operation", op.tag())
                    .tag("status", r.statusTag())
                    .publishPercentileHistogram()
                    .register(meters)
                    .record(r.latency());
            return r;
        });
        return new StepResult(last, attempts.get());
    }

    private void acquirePermit() {
        long start = System.nanoTime();
        while (!limiter.acquirePermission()) {
            if (Thread.currentThread().isInterrupted()) {
                throw new CancellationException("shutting down while waiting for a rate-limit permit");
            }
        }
        limiterWait.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
    }
}
