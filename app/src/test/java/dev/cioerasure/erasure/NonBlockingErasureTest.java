package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.customerio.RegionCheck;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.request.Identifier;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Erasures over a client that answers later ({@link NonBlockingTrack}, as batches do): no thread
 * waits for an erasure in flight, and closing hands back every one not finished.
 */
class NonBlockingErasureTest {

    /** Holds every call until the test answers it. */
    static final class HeldTrack implements TrackClient, NonBlockingTrack {
        record Call(TrackOperation op, Identifier identifier, CompletableFuture<TrackResult> answer) { }

        final ConcurrentLinkedQueue<Call> held = new ConcurrentLinkedQueue<>();

        @Override
        public CompletableFuture<TrackResult> send(TrackOperation op, Identifier identifier) {
            Call c = new Call(op, identifier, new CompletableFuture<>());
            held.add(c);
            return c.answer();
        }

        /** Answers every call held now (not those its answers start) with the status; returns how many. */
        int answerAll(int status) {
            List<Call> now = new ArrayList<>(held);
            held.removeAll(now);
            int n = 0;
            for (Call c : now) {
                c.answer().complete(new TrackResult(c.op(), status, TrackResult.classify(status), Optional.empty(), "http " + status,
                        Duration.ofMillis(1)));
                n++;
            }
            return n;
        }

        @Override
        public TrackResult suppress(Identifier identifier) {
            throw new AssertionError("a non-blocking client is never called to block");
        }

        @Override
        public TrackResult destroy(Identifier identifier) {
            throw new AssertionError("a non-blocking client is never called to block");
        }

        @Override
        public RegionCheck region() {
            throw new AssertionError("not used");
        }

        @Override
        public void reloadCredentials() { }
    }

    private static final TrackPolicy POLICY = new TrackPolicy(1000, 3, Duration.ofMillis(5), Duration.ofMillis(20),
            Duration.ofSeconds(30), Duration.ofMillis(50));

    private static ResilientTrack track(HeldTrack client) {
        return new ResilientTrack(client, POLICY, new SimpleMeterRegistry(), null, true, CallPacing.BY_THE_CLIENT);
    }

    @Test
    void twoThousandErasuresInFlightHoldNoThreadEach() throws Exception {
        HeldTrack client = new HeldTrack();
        ErasureExecutor executor = executor(client);
        int threadsBefore = Thread.activeCount();
        List<CompletableFuture<ErasureResult>> erasures = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            erasures.add(executor.eraseAsync(Identifier.id("p-" + i), false));
        }
        assertThat(client.held).hasSize(2000).allMatch(c -> c.op() == TrackOperation.SUPPRESS);
        assertThat(Thread.activeCount() - threadsBefore).as("threads started for 2,000 waiting erasures").isLessThan(10);
        assertThat(erasures).noneMatch(CompletableFuture::isDone);

        assertThat(client.answerAll(200)).isEqualTo(2000);
        assertThat(client.held).as("a destroy for each accepted suppress, sent by the thread that answered")
                .hasSize(2000).allMatch(c -> c.op() == TrackOperation.DESTROY);
        assertThat(client.answerAll(200)).isEqualTo(2000);
        for (CompletableFuture<ErasureResult> e : erasures) {
            ErasureResult r = e.get(5, TimeUnit.SECONDS);
            assertThat(r.verdict()).isEqualTo(ErasureResult.Verdict.COMPLETED);
            assertThat(r.suppress().attempts()).isEqualTo(1);
            assertThat(r.destroy().attempts()).isEqualTo(1);
        }
        executor.close();
    }

    @Test
    void callsWaitingForRefusedCredentialsHoldNoThreadAndGoOnOnceAProbeIsAccepted() throws Exception {
        HeldTrack client = new HeldTrack();
        ResilientTrack track = track(client);
        int threadsBefore = Thread.activeCount();
        List<CompletableFuture<StepResult>> steps = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            steps.add(track.callAsync(TrackOperation.SUPPRESS, Identifier.id("p-" + i)));
        }
        assertThat(client.answerAll(401)).isEqualTo(500);
        assertThat(client.held).as("each re-reads the key and calls once more").hasSize(500);
        assertThat(client.answerAll(403)).isEqualTo(500);
        // the gate is closed: the calls wait on timers, one probe goes out every 50 ms
        await().atMost(Duration.ofSeconds(5)).until(() -> client.held.size() == 1);
        assertThat(Thread.activeCount() - threadsBefore).as("threads started for 500 calls waiting out refused credentials")
                .isLessThan(10);
        assertThat(steps).noneMatch(CompletableFuture::isDone);
        client.answerAll(200); // the probe is accepted: the gate opens, the others call again
        await().atMost(Duration.ofSeconds(5)).until(() -> client.held.size() == 499);
        client.answerAll(200);
        for (CompletableFuture<StepResult> step : steps) {
            StepResult r = step.get(5, TimeUnit.SECONDS);
            assertThat(r.last().isSuccess()).isTrue();
            assertThat(r.attempts()).as("refused calls are not failures of the request, but are counted").isEqualTo(3);
        }
        track.close();
    }

    @Test
    void aRetryableAnswerIsRetriedAfterItsBackoffAndAPermanentOneIsNot() throws Exception {
        HeldTrack client = new HeldTrack();
        ResilientTrack track = track(client);
        CompletableFuture<StepResult> retried = track.callAsync(TrackOperation.SUPPRESS, Identifier.id("a"));
        client.answerAll(503);
        await().atMost(Duration.ofSeconds(5)).until(() -> client.held.size() == 1);
        client.answerAll(200);
        StepResult r = retried.get(5, TimeUnit.SECONDS);
        assertThat(r.attempts()).isEqualTo(2);
        assertThat(r.last().isSuccess()).isTrue();

        CompletableFuture<StepResult> refused = track.callAsync(TrackOperation.DESTROY, Identifier.id("b"));
        client.answerAll(400);
        assertThat(refused.get(5, TimeUnit.SECONDS).attempts()).isEqualTo(1);
        Thread.sleep(50); // longer than the longest backoff: a retry would have been sent by now
        assertThat(client.held).as("no retry of a permanent refusal").isEmpty();
        track.close();
    }

    @Test
    void closingHandsBackEveryStepNotFinishedAndRefusesNewOnes() throws Exception {
        HeldTrack client = new HeldTrack();
        // in-line backoff up to a minute, so that a 30 s Retry-After is waited out in line
        ResilientTrack track = new ResilientTrack(client, new TrackPolicy(1000, 3, Duration.ofMillis(5), Duration.ofMinutes(1),
                Duration.ofSeconds(30), Duration.ofMillis(50)), new SimpleMeterRegistry(), null, true, CallPacing.BY_THE_CLIENT);
        CompletableFuture<StepResult> unanswered = track.callAsync(TrackOperation.SUPPRESS, Identifier.id("waits-for-its-batch"));
        CompletableFuture<StepResult> backingOff = track.callAsync(TrackOperation.SUPPRESS, Identifier.id("waits-for-a-retry"));
        // answer only the second with a 429: its retry waits on the timer when the track closes
        List<HeldTrack.Call> calls = new ArrayList<>(client.held);
        client.held.clear();
        client.held.add(calls.get(0));
        calls.get(1).answer().complete(new TrackResult(TrackOperation.SUPPRESS, 429, TrackResult.classify(429),
                Optional.of(Duration.ofSeconds(30)), "http 429", Duration.ofMillis(1)));
        Thread.sleep(50);
        assertThat(backingOff).as("waiting out the Retry-After").isNotDone();

        track.close();
        for (CompletableFuture<StepResult> step : List.of(unanswered, backingOff)) {
            assertThatThrownBy(() -> step.get(5, TimeUnit.SECONDS)).isInstanceOf(CancellationException.class);
        }
        assertThatThrownBy(() -> track.callAsync(TrackOperation.DESTROY, Identifier.id("late")).get(5, TimeUnit.SECONDS))
                .isInstanceOf(CancellationException.class);
    }

    private static ErasureExecutor executor(HeldTrack client) {
        return new ErasureExecutor(track(client), new CallPacer(POLICY, new SimpleMeterRegistry(), null));
    }
}
