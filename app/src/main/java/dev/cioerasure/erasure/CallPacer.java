package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.metrics.MetricNames;
import io.github.resilience4j.core.functions.Either;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Paces single Track calls (v1), each one:
 * <ol>
 *   <li>within this instance's grant of the group's budget, while its lease is valid;</li>
 *   <li>through one shared resilience4j {@link RateLimiter} that spreads starts over short
 *       periods (a 429 also drains its current period);</li>
 *   <li>through the {@link ArrivalWindow} that guarantees a server counting arrivals in any
 *       one-second window never sees more than the limit;</li>
 *   <li>on a 429 the limit is lowered by 10 % (at most once a second, down to half) and raised
 *       back by 5 % every 5 s without one, so a server that counts differently (or traffic of
 *       others on the same workspace) is met in proportion: the call told to wait honours its
 *       {@code Retry-After} (its retry), the other threads go on at the lowered rate.</li>
 * </ol>
 */
final class CallPacer implements Paced, CallPacing {
    private static final Logger log = LoggerFactory.getLogger(CallPacer.class);

    /** The current limiter: a new grant makes a new one (calls waiting on the old one finish on it). */
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
    private final Counter backoffs;
    private final Timer limiterWait;
    private final String workspaceLabel;

    /** @param workspace the workspace's name, for log lines (null: the single workspace) */
    CallPacer(TrackPolicy policy, MeterRegistry meters, String workspace) {
        this.workspaceLabel = ResilientTrack.label(workspace);
        this.limiter = RateLimiter.of(ResilientTrack.NAME, rateLimiterConfig(policy.callsPerSecond()));
        this.granted = policy.callsPerSecond();
        this.headroomPercent = policy.headroomPercent();
        this.arrivals = new ArrivalWindow(effective(policy.callsPerSecond(), policy.headroomPercent(), 1.0),
                policy.unansweredGrace().toNanos(), System::nanoTime);
        this.callsPerSecond = arrivals.limit();
        this.backoffs = Counter.builder(MetricNames.RATE_BACKOFFS)
                .description("Times a 429 lowered this instance's rate by 10 %").register(meters);
        this.limiterWait = Timer.builder(MetricNames.RATE_LIMITER_WAIT)
                .description("Time Track calls waited for a rate-limit permit and a slot of the arrival window")
                .publishPercentileHistogram()
                .register(meters);
        // resilience4j's two gauges, by its names, registered once and reading whichever limiter is
        // current: its own binding (on a RateLimiterRegistry) removes and registers them again at every
        // new limiter, and a Prometheus scrape that runs meanwhile fails (micrometer-metrics/micrometer#6851)
        Gauge.builder("resilience4j.ratelimiter.available.permissions", this, p -> p.limiter.getMetrics().getAvailablePermissions())
                .description("The number of available permissions").tag("name", ResilientTrack.NAME).strongReference(true).register(meters);
        Gauge.builder("resilience4j.ratelimiter.waiting_threads", this, p -> p.limiter.getMetrics().getNumberOfWaitingThreads())
                .description("The number of waiting threads").tag("name", ResilientTrack.NAME).strongReference(true).register(meters);
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
                .drainPermissionsOnResult(CallPacer::isTooManyRequests)
                .build();
    }

    private static boolean isTooManyRequests(Either<? extends Throwable, ?> either) {
        return either.isRight() && either.get() instanceof TrackResult r && r.status() == 429;
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
        limiter = RateLimiter.of(ResilientTrack.NAME, rateLimiterConfig(Math.max(1, rate)));
        callsPerSecond = rate;
        log.debug("Track call rate of this instance set to {}/s", rate);
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

    @Override
    public void beforeCall() {
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

    @Override
    public void afterCall(TrackResult r) {
        // the slot stays held for a second after the response (longer without one)
        arrivals.finished(r.status() > 0);
        if (r.status() == 429) {
            limiter.onResult(r);
            tooManyRequests();
        }
    }

    @Override
    public void callFailed() {
        arrivals.finished(false);
    }

    /** A 429: lower the rate by 10 %, at most once a second, to no less than half. */
    private synchronized void tooManyRequests() {
        long now = System.nanoTime();
        if (now - last429Nanos > TimeUnit.SECONDS.toNanos(1) && factor > 0.5) {
            factor = Math.max(0.5, factor * 0.9);
            backoffs.increment();
            log.warn("Customer.io answered 429{}: Track rate of this instance lowered to {} % ({}/s)", workspaceLabel,
                    Math.round(factor * 100), effective(granted, headroomPercent, factor));
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
}
