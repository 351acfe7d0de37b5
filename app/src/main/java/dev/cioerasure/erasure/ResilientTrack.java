package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.threads.DaemonThreads;
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
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
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
final class ResilientTrack implements AutoCloseable {
    /** How often a call waiting for a paused workspace (open breaker, refused credentials) looks again. */
    private static final Duration PAUSED_RECHECK = Duration.ofMillis(100);
    private static final Logger log = LoggerFactory.getLogger(ResilientTrack.class);
    static final String NAME = "customerio-track";

    private final TrackClient client;
    private final CallPacing pacing;
    private final Retry retry;
    private final CircuitBreaker breaker;
    private final MeterRegistry meters;
    private final CredentialGate credentials;
    /** Waits and retries: a timer, never a waiting thread. */
    private final ScheduledExecutorService timers =
            Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("track-timers"));
    /** A blocking client's calls (v1's HTTP, with its pacing): a thread each while it runs. */
    private final ExecutorService blockingCalls = Executors.newCachedThreadPool(DaemonThreads.numbered("track-call-"));
    /** Steps not finished yet: failed with a CancellationException on {@link #close()}, so none waits for ever. */
    private final Set<CompletableFuture<StepResult>> unfinished = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
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
        if (client instanceof NonBlockingTrack && pacing != CallPacing.BY_THE_CLIENT) {
            throw new IllegalArgumentException("a non-blocking client paces its own requests");
        }
        this.pacing = pacing;
        this.waitWhilePaused = waitWhilePaused;
        this.workspaceLabel = label(workspace);
        this.client = client;
        this.meters = meters;
        IntervalBiFunction<TrackResult> interval = Backoff.honouringRetryAfter(policy.initialBackoff(), policy.maxBackoff(),
                TrackResult::retryAfter);
        RetryRegistry retries = RetryRegistry.of(RetryConfig.<TrackResult>custom()
                .maxAttempts(policy.maxAttempts())
                .retryOnResult(r -> r.isRetryable() && Backoff.waitsInLine(r.retryAfter(), policy.maxBackoff()))
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
     * Runs one step with pacing and retries, without a thread waiting for it: waits (backoff,
     * {@code Retry-After}, an open breaker, refused credentials) are timers, a {@link NonBlockingTrack}
     * answers when its batch does, and only a blocking client's call itself (v1's HTTP request
     * and its pacing) takes a thread, for as long as it runs.
     *
     * @return the step's result; fails with a {@link CancellationException} on shutdown (the
     *         step's outcome is unknown and the request must be handed back, not audited)
     */
    CompletableFuture<StepResult> callAsync(TrackOperation op, Identifier identifier) {
        AtomicInteger attempts = new AtomicInteger();
        CompletableFuture<StepResult> step = new CompletableFuture<>();
        unfinished.add(step);
        if (closed) {
            step.cancel(false);
        } else {
            retry.<TrackResult>executeCompletionStage(timers, () -> guarded(() -> withCredentials(op, identifier, false, attempts)))
                    .whenComplete((last, e) -> {
                        if (e != null) {
                            step.completeExceptionally(e);
                        } else {
                            step.complete(new StepResult(last, attempts.get()));
                        }
                    });
        }
        step.whenComplete((r, e) -> unfinished.remove(step));
        return step;
    }

    /** {@link #callAsync}, waited for. */
    StepResult call(TrackOperation op, Identifier identifier) {
        return ErasureExecutor.await(callAsync(op, identifier));
    }

    /** One attempt as the retry sees it: refused credentials are re-read, waited out or probed; never a failure of the request. */
    private CompletableFuture<TrackResult> withCredentials(TrackOperation op, Identifier identifier, boolean reloaded,
                                                          AtomicInteger attempts) {
        CredentialGate.Turn turn = credentials.turn();
        if (turn == CredentialGate.Turn.CLOSED) {
            if (!waitWhilePaused) {
                return CompletableFuture.completedFuture(TrackResult.paused(op, "credentials refused"));
            }
            return later(PAUSED_RECHECK, () -> withCredentials(op, identifier, reloaded, attempts));
        }
        boolean probe = turn == CredentialGate.Turn.PROBE;
        return guarded(() -> attempt(op, identifier)).handle((r, e) -> {
            if (e != null) {
                credentials.abandonProbe(probe);
                return CompletableFuture.<TrackResult>failedFuture(e);
            }
            if (r.kind() == TrackResult.Kind.PAUSED) {
                credentials.abandonProbe(probe);
                return CompletableFuture.completedFuture(r);
            }
            attempts.incrementAndGet();
            if (!credentials.afterCall(r, probe, reloaded)) {
                return CompletableFuture.completedFuture(r);
            }
            // refused credentials: never a failure of this request; wait (the gate) and call again
            return withCredentials(op, identifier, true, attempts);
        }).thenCompose(f -> f);
    }

    /**
     * While the breaker is open, wait (a probe will close it again) instead of failing; or, when
     * calls do not wait while paused, return PAUSED at once.
     */
    private CompletableFuture<TrackResult> attempt(TrackOperation op, Identifier identifier) {
        if (!breaker.tryAcquirePermission()) {
            if (!waitWhilePaused) {
                return CompletableFuture.completedFuture(TrackResult.paused(op, "circuit open"));
            }
            return later(PAUSED_RECHECK, () -> attempt(op, identifier));
        }
        CompletableFuture<TrackResult> sent;
        try {
            sent = send(op, identifier);
        } catch (RuntimeException e) {
            breaker.releasePermission();
            throw e;
        }
        return sent.handle((r, e) -> {
            if (e != null) {
                breaker.releasePermission();
                throw e instanceof CompletionException c ? c : new CompletionException(e);
            }
            pacing.afterCall(r);
            breaker.onResult(r.latency().toNanos(), TimeUnit.NANOSECONDS, r);
            callTimers.computeIfAbsent(op.tag() + "|" + r.metricTag(), k -> Timer.builder(MetricNames.TRACK_CALLS)
                    .description("Track API calls (each attempt) by operation and HTTP status")
                    .tag("operation", op.tag())
                    .tag("status", r.metricTag())
                    .publishPercentileHistogram()
                    .register(meters)).record(r.latency());
            return r;
        });
    }

    /** The call itself: a non-blocking client's, or a blocking client's on a thread of its own (after its pacing). */
    private CompletableFuture<TrackResult> send(TrackOperation op, Identifier identifier) {
        if (client instanceof NonBlockingTrack nonBlocking) {
            return nonBlocking.send(op, identifier);
        }
        try {
            return CompletableFuture.supplyAsync(() -> {
                pacing.beforeCall(); // a CancellationException here took no slot: nothing to give back
                try {
                    return op == TrackOperation.SUPPRESS ? client.suppress(identifier) : client.destroy(identifier);
                } catch (RuntimeException e) {
                    pacing.callFailed();
                    throw e;
                }
            }, blockingCalls);
        } catch (RejectedExecutionException e) {
            throw new CancellationException("the Track client is closed");
        }
    }

    /** What {@code next} returns, started after the delay on the timer thread (which it must not block). */
    private <T> CompletableFuture<T> later(Duration delay, Supplier<CompletableFuture<T>> next) {
        CompletableFuture<Void> due = new CompletableFuture<>();
        try {
            timers.schedule(() -> due.complete(null), delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new CancellationException("the Track client is closed"));
        }
        return due.thenCompose(v -> guarded(next));
    }

    /** A step that throws becomes a failed future (the retry's timer must never lose one). */
    private static <T> CompletableFuture<T> guarded(Supplier<CompletableFuture<T>> work) {
        try {
            return work.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Stops: every step not yet finished fails with a {@link CancellationException} (its request
     * is handed back); blocking calls still running are interrupted, timers dropped.
     */
    @Override
    public void close() {
        closed = true;
        // first: a retry that finds its timer shut down would fail its step with another exception
        for (CompletableFuture<StepResult> step : unfinished) {
            step.completeExceptionally(new CancellationException("the Track client is closed"));
        }
        timers.shutdownNow();
        blockingCalls.shutdownNow();
    }
}
