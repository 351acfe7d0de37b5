package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.customerio.RegionCheck;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.request.Identifier;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ResilientTrackTest {

    /** What a scripted 429 asks for: within the in-line backoff of the policies here (5 ms). */
    static final Duration RETRY_AFTER = Duration.ofMillis(3);

    /** Answers with the scripted statuses in order, then 200; records what was called. */
    static final class ScriptedTrack implements TrackClient {
        final Deque<Integer> script;
        final List<TrackOperation> calls = new ArrayList<>();
        int reloads;

        @Override
        public synchronized void reloadCredentials() {
            reloads++;
        }

        ScriptedTrack(Integer... statuses) {
            script = new ArrayDeque<>(List.of(statuses));
        }

        private synchronized TrackResult answer(TrackOperation op) {
            calls.add(op);
            int status = script.isEmpty() ? 200 : script.poll();
            return new TrackResult(op, status, TrackResult.classify(status),
                    status == 429 ? Optional.of(RETRY_AFTER) : Optional.empty(), "http " + status, Duration.ofMillis(1));
        }

        @Override
        public TrackResult suppress(Identifier identifier) {
            return answer(TrackOperation.SUPPRESS);
        }

        @Override
        public TrackResult destroy(Identifier identifier) {
            return answer(TrackOperation.DESTROY);
        }

        @Override
        public RegionCheck region() {
            return new RegionCheck(answer(TrackOperation.REGION), Optional.of("us"), Optional.empty());
        }
    }

    private static final TrackPolicy FAST = new TrackPolicy(1000, 4, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(30), Duration.ofMillis(50));

    @Test
    void suppressComesBeforeDestroy() {
        ScriptedTrack t = new ScriptedTrack();
        ErasureResult r = new ErasureExecutor(t, FAST, new SimpleMeterRegistry()).erase(Identifier.id("1"));
        assertThat(r.verdict()).isEqualTo(ErasureResult.Verdict.COMPLETED);
        assertThat(t.calls).containsExactly(TrackOperation.SUPPRESS, TrackOperation.DESTROY);
    }

    @Test
    void retryableErrorsAreRetriedUpToTheLimit() {
        ScriptedTrack t = new ScriptedTrack(503, 429, 500, 502, 503);
        ErasureResult r = new ErasureExecutor(t, FAST, new SimpleMeterRegistry()).erase(Identifier.id("1"));
        assertThat(r.verdict()).isEqualTo(ErasureResult.Verdict.RETRIES_EXHAUSTED);
        assertThat(r.suppress().attempts()).isEqualTo(4);
        assertThat(r.destroy()).isNull();
        assertThat(r.reason()).isEqualTo("suppress: http 502 after 4 attempts (retryable)");
    }

    @Test
    void permanentAndAuthErrorsAreNotRetried() {
        ScriptedTrack bad = new ScriptedTrack(200, 400);
        ErasureResult r = new ErasureExecutor(bad, FAST, new SimpleMeterRegistry()).erase(Identifier.id("1"));
        assertThat(r.verdict()).isEqualTo(ErasureResult.Verdict.PERMANENT_FAILURE);
        assertThat(r.destroy().attempts()).isEqualTo(1);

    }

    @Test
    void aRefusedKeyIsReloadedAndRetriedOnceWithoutFailing() {
        ScriptedTrack rotated = new ScriptedTrack(401);
        ErasureResult r = new ErasureExecutor(rotated, FAST, new SimpleMeterRegistry()).erase(Identifier.id("1"));
        assertThat(r.verdict()).isEqualTo(ErasureResult.Verdict.COMPLETED);
        assertThat(rotated.reloads).isEqualTo(1);
        assertThat(rotated.calls).containsExactly(TrackOperation.SUPPRESS, TrackOperation.SUPPRESS, TrackOperation.DESTROY);
    }

    @Test
    void persistentlyRefusedCredentialsPauseAndRaiseTheAlertUntilTheyWorkAgain() throws Exception {
        ScriptedTrack locked = new ScriptedTrack(401, 401, 401, 403);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        ErasureResult r = new ErasureExecutor(locked, FAST, meters).erase(Identifier.id("1"));
        assertThat(r.verdict()).as("the request is not failed for a credentials problem").isEqualTo(ErasureResult.Verdict.COMPLETED);
        assertThat(locked.calls).containsExactly(TrackOperation.SUPPRESS, TrackOperation.SUPPRESS, TrackOperation.SUPPRESS,
                TrackOperation.SUPPRESS, TrackOperation.SUPPRESS, TrackOperation.DESTROY);
        assertThat(meters.get("erasure.credentials.rejected").gauge().value()).isZero();
    }

    @Test
    void theCredentialsAlertIsRaisedWhileRefused() throws Exception {
        ScriptedTrack locked = new ScriptedTrack(401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        ErasureExecutor executor = new ErasureExecutor(locked, FAST, meters);
        Thread t = new Thread(() -> executor.erase(Identifier.id("1")));
        t.start();
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (meters.get("erasure.credentials.rejected").gauge().value() != 1.0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertThat(meters.get("erasure.credentials.rejected").gauge().value()).isEqualTo(1.0);
        t.join(10_000);
        assertThat(t.isAlive()).isFalse();
        assertThat(meters.get("erasure.credentials.rejected").gauge().value()).isZero();
    }

    /**
     * In-line waits stop at the policy's longest backoff (30 s in the worker): a Retry-After of a
     * minute was cut to that, so the call went again sooner than the server asked. It is not
     * retried in line now; the request's retry round waits the Retry-After out
     * (RecordProcessorTest). A Retry-After within the backoff is waited out in line, in full.
     */
    @Test
    void aRetryAfterLongerThanTheInLineBackoffIsNotRetriedSoonerInLine() {
        TrackPolicy policy = new TrackPolicy(1000, 4, Duration.ofMillis(1), Duration.ofMillis(200), Duration.ofSeconds(30), Duration.ofMillis(50));
        List<Long> sentAt = new ArrayList<>();
        Duration[] asked = {Duration.ofSeconds(60)};
        ScriptedTrack ok = new ScriptedTrack();
        TrackClient oneAnswer = new TrackClient() {
            @Override
            public TrackResult suppress(Identifier identifier) {
                sentAt.add(System.nanoTime());
                return sentAt.size() > 1 ? ok.suppress(identifier) : new TrackResult(TrackOperation.SUPPRESS, 429, TrackResult.Kind.RETRYABLE,
                        Optional.of(asked[0]), "http 429", Duration.ofMillis(1));
            }

            @Override
            public TrackResult destroy(Identifier identifier) {
                return ok.destroy(identifier);
            }

            @Override
            public RegionCheck region() {
                return ok.region();
            }
        };
        StepResult longWait = new ResilientTrack(oneAnswer, policy, new SimpleMeterRegistry(), null, true,
                new CallPacer(policy, new SimpleMeterRegistry(), null)).call(TrackOperation.SUPPRESS, Identifier.id("1"));
        assertThat(longWait.attempts()).isEqualTo(1);
        assertThat(longWait.last().retryAfter()).contains(Duration.ofSeconds(60));

        sentAt.clear();
        asked[0] = Duration.ofMillis(150);
        StepResult shortWait = new ResilientTrack(oneAnswer, policy, new SimpleMeterRegistry(), null, true,
                new CallPacer(policy, new SimpleMeterRegistry(), null)).call(TrackOperation.SUPPRESS, Identifier.id("1"));
        assertThat(shortWait.attempts()).isEqualTo(2);
        assertThat(shortWait.last().isSuccess()).isTrue();
        assertThat(Duration.ofNanos(sentAt.get(1) - sentAt.get(0))).isGreaterThanOrEqualTo(Duration.ofMillis(150));
    }

    @Test
    void recoversAfterTransientErrors() {
        ScriptedTrack t = new ScriptedTrack(503, 200, 429);
        ErasureResult r = new ErasureExecutor(t, FAST, new SimpleMeterRegistry()).erase(Identifier.id("1"));
        assertThat(r.verdict()).isEqualTo(ErasureResult.Verdict.COMPLETED);
        assertThat(r.suppress().attempts()).isEqualTo(2);
        assertThat(r.destroy().attempts()).isEqualTo(2);
    }

    @Test
    void theRateIsSpreadOverShortPeriods() {
        RateLimiterConfig c = CallPacer.rateLimiterConfig(1000);
        assertThat(c.getLimitForPeriod()).isEqualTo(10);
        assertThat(c.getLimitRefreshPeriod()).isEqualTo(Duration.ofMillis(10));
        RateLimiterConfig odd = CallPacer.rateLimiterConfig(95);
        assertThat(odd.getLimitForPeriod() * (1000 / odd.getLimitRefreshPeriod().toMillis())).isEqualTo(95);
        RateLimiterConfig share = CallPacer.rateLimiterConfig(333); // a third of 1000: no exact spread
        assertThat(share.getLimitForPeriod()).isEqualTo(33);
        assertThat(share.getLimitRefreshPeriod()).isEqualTo(Duration.ofMillis(100));
        RateLimiterConfig prime = CallPacer.rateLimiterConfig(7);
        assertThat(prime.getLimitForPeriod()).isEqualTo(7);
        assertThat(prime.getLimitRefreshPeriod()).isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void aStray429LowersTheRateInProportionAndHoldsNoOtherCall() {
        ScriptedTrack t = new ScriptedTrack(429, 200, 200, 200, 200, 200);
        TrackPolicy policy = new TrackPolicy(100, 3, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(30), Duration.ofMillis(50));
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        CallPacer pacer = new CallPacer(policy, meters, null);
        ResilientTrack track = new ResilientTrack(t, policy, meters, null, true, pacer);
        long t0 = System.nanoTime();
        StepResult first = track.call(dev.cioerasure.customerio.TrackOperation.SUPPRESS, Identifier.id("1"));
        StepResult second = track.call(dev.cioerasure.customerio.TrackOperation.DESTROY, Identifier.id("1"));
        assertThat(first.attempts()).isEqualTo(2);
        assertThat(second.last().isSuccess()).isTrue();
        assertThat(pacer.callsPerSecond()).as("10 %% lower after one 429").isEqualTo(90);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("no worker-wide hold of a whole Retry-After")
                .isLessThan(Duration.ofMillis(900));
    }

    @Test
    void headroomPacesBelowTheLimit() {
        assertThat(CallPacer.effective(1000, 10, 1.0)).isEqualTo(900);
        assertThat(CallPacer.effective(1000, 0, 0.9)).isEqualTo(900);
        assertThat(CallPacer.effective(7, 0, 1.0)).isEqualTo(7);
    }
}
