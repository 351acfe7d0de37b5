package dev.cioerasure.erasure;

import dev.cioerasure.customerio.AppClient;
import dev.cioerasure.customerio.PresenceResult;
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
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks Customer.io's App API whether a person still exists, with its own pacing, retry and
 * breaker, apart from the Track calls (a slow or failing App API never holds an erasure):
 * <ol>
 *   <li>a resilience4j {@link CircuitBreaker} named {@value #NAME}: while most recent look-ups
 *       failed with 5xx/IO/timeouts, callers wait for a probe instead of failing;</li>
 *   <li>an {@link ArrivalWindow} sized to this instance's grant of the group's App API budget
 *       (10 requests/s per workspace), so a server counting arrivals in any one-second window
 *       never sees more;</li>
 *   <li>a {@link Retry} around it for 408/429/5xx/IO errors, with exponential backoff and jitter,
 *       never sooner than {@code Retry-After}.</li>
 * </ol>
 * A 401/403 or another 4xx is returned at once: the caller decides (the look-up is repeated at
 * the next check, until the verification deadline).
 */
public final class VerificationExecutor implements Paced {
    private static final Logger log = LoggerFactory.getLogger(VerificationExecutor.class);
    public static final String NAME = "customerio-app";
    /** How long a made-up key's refusal vouches for the server at the App API's URL. */
    private static final Duration KEYS_CHECK_VALID = Duration.ofHours(1);

    /** The look-up's last answer and how many calls it took. */
    public record Check(PresenceResult last, int attempts) { }

    private final AppClient client;
    /** The look-ups' pacing: the group's App API grant, as an arrival window. */
    private final LeasedWindow pacing;
    private final Retry retry;
    private final CircuitBreaker breaker;
    private final MeterRegistry meters;
    private final Map<String, Timer> callTimers = new ConcurrentHashMap<>();
    /**
     * Whether the App API's last answer refused the key. Such a look-up is asked again at the
     * next check until the verification deadline (24 h by default), and only then recorded
     * {@code UNVERIFIABLE}: a revoked key said nothing for a day but a debug line and a metric's
     * status tag. It is logged when it starts and ends, and alerts.
     */
    private final AtomicBoolean keyRefused = new AtomicBoolean();
    private final String workspaceLabel;
    /**
     * The same look-up with a made-up key, or null (no control). A 404 proves that Customer.io has
     * no such person only when it comes from the App API: a wrong CUSTOMERIO_APP_URL (a gateway,
     * another API answering a JSON 404 to anything) recorded VERIFIED for everyone. So a 404 counts
     * once the server there has refused a made-up key, asked at most once an hour.
     */
    private final AppClient madeUpKey;
    /** Until when the last refusal of the made-up key vouches for the URL (now, or past: ask). */
    private volatile long keysCheckedUntilNanos = System.nanoTime();
    /**
     * A person the workspace holds (CUSTOMERIO_APP_CONTROL_PERSON_ID), or null. An App API key of
     * another workspace is accepted, and answers 404 for everyone: each check was recorded
     * VERIFIED. So, when set, a 404 counts only once the key has found this person, asked with
     * the made-up key's control.
     */
    private final Identifier controlPerson;
    /**
     * While the key does not find the control person: logged when it starts and ends, and a gauge
     * alerts. Meanwhile each 404 asks again (two more calls, paced like any: nothing verifies anyway).
     */
    private final AtomicBoolean controlMissing = new AtomicBoolean();

    /**
     * @param madeUpKey       the same App API with a made-up key, which it must refuse before a 404 counts; null for none
     * @param callsPerSecond  the limit until a grant is set (the group budget sets it at once)
     * @param maxAttempts     in-line attempts per look-up (1 = no retry)
     * @param unansweredGrace how much longer a call without a response holds its slot
     * @param workspace       the workspace's name for log lines, or null for the single workspace
     */
    public VerificationExecutor(AppClient client, AppClient madeUpKey, int callsPerSecond, int maxAttempts, Duration initialBackoff,
                                Duration maxBackoff, Duration breakerOpenFor, Duration unansweredGrace, MeterRegistry meters, String workspace) {
        this(client, madeUpKey, null, callsPerSecond, maxAttempts, initialBackoff, maxBackoff, breakerOpenFor, unansweredGrace, meters,
                workspace);
    }

    /** @param controlPerson a person the key must find before a 404 counts (with {@code madeUpKey}); null for none */
    public VerificationExecutor(AppClient client, AppClient madeUpKey, Identifier controlPerson, int callsPerSecond, int maxAttempts,
                                Duration initialBackoff, Duration maxBackoff, Duration breakerOpenFor, Duration unansweredGrace,
                                MeterRegistry meters, String workspace) {
        this.client = client;
        this.madeUpKey = madeUpKey;
        this.controlPerson = controlPerson;
        this.meters = meters;
        this.workspaceLabel = ResilientTrack.label(workspace);
        Gauge.builder(MetricNames.APP_CREDENTIALS_REJECTED, keyRefused, k -> k.get() ? 1 : 0)
                .description("1 while the App API refuses the App API key (401/403): no erasure can be verified until it is replaced")
                .strongReference(true).register(meters);
        Gauge.builder(MetricNames.APP_CONTROL_PERSON_MISSING, controlMissing, k -> k.get() ? 1 : 0)
                .description("1 while the App API key does not find the control person (CUSTOMERIO_APP_CONTROL_PERSON_ID): a key of"
                        + " another workspace, or that person was erased; no erasure is recorded VERIFIED meanwhile")
                .strongReference(true).register(meters);
        this.pacing = new LeasedWindow(callsPerSecond, 0, unansweredGrace, "waiting for a share of the group's App API rate");
        IntervalBiFunction<PresenceResult> interval = Backoff.honouringRetryAfter(initialBackoff, maxBackoff, PresenceResult::retryAfter);
        RetryRegistry retries = RetryRegistry.of(RetryConfig.<PresenceResult>custom()
                .maxAttempts(maxAttempts)
                .retryOnResult(r -> r.kind() == PresenceResult.Kind.RETRYABLE && Backoff.waitsInLine(r.retryAfter(), maxBackoff))
                .retryOnException(e -> false)
                .intervalBiFunction(interval)
                .build());
        this.retry = retries.retry(NAME);
        CircuitBreakerRegistry breakers = CircuitBreakerRegistry.of(CircuitBreakerConfig.custom()
                // at 10 look-ups/s a short count window: 20 calls, at least 10
                .slidingWindow(20, 10, CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .failureRateThreshold(50)
                .recordResult(r -> r instanceof PresenceResult p && p.kind() == PresenceResult.Kind.RETRYABLE && p.status() != 429)
                .waitDurationInOpenState(breakerOpenFor)
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .permittedNumberOfCallsInHalfOpenState(2)
                .build());
        this.breaker = breakers.circuitBreaker(NAME);
        breaker.getEventPublisher().onStateTransition(e ->
                log.warn("Customer.io App API circuit breaker: {}", BreakerTransitions.describe(e.getStateTransition(),
                        breaker.getMetrics())));
        TaggedRetryMetrics.ofRetryRegistry(retries).bindTo(meters);
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(breakers).bindTo(meters);
    }

    @Override
    public void setGrant(int callsPerSecond, long validUntilNanos) {
        pacing.setGrant(callsPerSecond, validUntilNanos);
    }

    @Override
    public int occupied() {
        return pacing.occupied();
    }

    @Override
    public int waiting() {
        return pacing.waiting();
    }

    /** App API look-ups per second this instance may make now. */
    @Override
    public int callsPerSecond() {
        return pacing.callsPerSecond();
    }

    /**
     * One look-up, with retries.
     *
     * @throws CancellationException when interrupted (shutdown): the caller hands the work back
     */
    public Check check(Identifier identifier) {
        AtomicInteger attempts = new AtomicInteger();
        PresenceResult last = retry.executeSupplier(() -> {
            attempts.incrementAndGet();
            return attempt(identifier);
        });
        if (last.kind() == PresenceResult.Kind.GONE && madeUpKey != null) {
            PresenceResult unproven = keysUnchecked();
            if (unproven != null) {
                return new Check(unproven, attempts.get());
            }
        }
        return new Check(last, attempts.get());
    }

    /**
     * Null when the server at the App API's URL has refused a made-up key within the hour (asked
     * now if not); else why the 404 proves nothing yet, as an error: the check is asked again
     * until its deadline, so a URL put right meanwhile still verifies.
     */
    private synchronized PresenceResult keysUnchecked() {
        if (System.nanoTime() - keysCheckedUntilNanos < 0) {
            return null;
        }
        pacing.acquire(); // a call like any other against the group's App API limit
        PresenceResult control = inSlot(madeUpKey, Identifier.id("cio-erasure-control-" + java.util.UUID.randomUUID()));
        if (control.kind() == PresenceResult.Kind.UNAUTHORIZED) {
            PresenceResult wrongWorkspace = controlPersonMissing();
            if (wrongWorkspace != null) {
                return wrongWorkspace;
            }
            keysCheckedUntilNanos = System.nanoTime() + KEYS_CHECK_VALID.toNanos();
            return null;
        }
        keysCheckedUntilNanos = System.nanoTime();
        if (control.isAnswer()) {
            log.error("the App API's URL{} answered {} to a look-up with a made-up key: it does not check App API keys, so it is not"
                    + " the App API, and its 404s prove nothing; no erasure is recorded VERIFIED until CUSTOMERIO_APP_URL is put right",
                    workspaceLabel, control.detail());
            return new PresenceResult(0, PresenceResult.Kind.RETRYABLE, Optional.empty(),
                    "404 not counted: the App API's URL also answered " + control.detail() + " to a made-up key (not the App API)");
        }
        return new PresenceResult(0, PresenceResult.Kind.RETRYABLE, Optional.empty(),
                "404 not counted: could not ask whether the App API's URL refuses a made-up key (" + control.detail() + ")");
    }

    /**
     * Null when no control person is set or the App API key finds that person; else why a 404
     * proves nothing yet, as an error (asked again until the check's deadline).
     */
    private PresenceResult controlPersonMissing() {
        if (controlPerson == null) {
            return null;
        }
        pacing.acquire();
        PresenceResult found = inSlot(client, controlPerson);
        if (found.kind() == PresenceResult.Kind.PRESENT) {
            if (controlMissing.compareAndSet(true, false)) {
                log.info("the App API key{} finds the control person again: its 404s count", workspaceLabel);
            }
            return null;
        }
        if (found.kind() == PresenceResult.Kind.GONE) {
            if (controlMissing.compareAndSet(false, true)) {
                log.error("the App API key{} does not find the control person (CUSTOMERIO_APP_CONTROL_PERSON_ID): it reads another"
                        + " workspace, or that person was erased; its 404s prove nothing, and no erasure is recorded VERIFIED until"
                        + " the key finds that person", workspaceLabel);
            }
            return new PresenceResult(0, PresenceResult.Kind.RETRYABLE, Optional.empty(),
                    "404 not counted: the App API key does not find the control person (a key of another workspace?)");
        }
        return new PresenceResult(0, PresenceResult.Kind.RETRYABLE, Optional.empty(),
                "404 not counted: could not ask whether the App API key finds the control person (" + found.detail() + ")");
    }

    private PresenceResult attempt(Identifier identifier) {
        while (!breaker.tryAcquirePermission()) {
            Backoff.sleep(Duration.ofMillis(100), "waiting for the App API to come back");
        }
        long start = System.nanoTime();
        try {
            pacing.acquire();
        } catch (CancellationException e) {
            breaker.releasePermission();
            throw e;
        }
        PresenceResult r = inSlot(client, identifier);
        noteKey(r);
        long took = System.nanoTime() - start;
        breaker.onResult(took, java.util.concurrent.TimeUnit.NANOSECONDS, r);
        callTimers.computeIfAbsent(r.metricTag(), k -> Timer.builder(MetricNames.APP_CALLS)
                .description("App API look-ups (each attempt) by HTTP status, including the wait for a slot")
                .tag("status", k)
                .register(meters)).record(Duration.ofNanos(took));
        return r;
    }

    /** One look-up in a slot of the pacing already taken, which it gives back answered or not. */
    private PresenceResult inSlot(AppClient c, Identifier identifier) {
        PresenceResult r;
        try {
            r = c.lookup(identifier);
        } catch (RuntimeException e) {
            pacing.finished(false);
            throw e;
        }
        pacing.finished(r.status() > 0);
        return r;
    }

    private void noteKey(PresenceResult r) {
        if (r.kind() == PresenceResult.Kind.UNAUTHORIZED) {
            if (keyRefused.compareAndSet(false, true)) {
                log.warn("the App API refuses the App API key{} (HTTP {}): no erasure can be verified until it is replaced; each"
                        + " check is asked again until its verification deadline", workspaceLabel, r.status());
            }
        } else if (r.status() > 0 && keyRefused.compareAndSet(true, false)) {
            log.info("the App API accepts the App API key{} again", workspaceLabel);
        }
    }
}
