package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.customerio.BatchClient;
import dev.cioerasure.customerio.RegionCheck;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.request.Identifier;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Calls gathered into batches: by size or wait, one operation a batch, each item's own result, a 400 bisected. */
class BatchingTrackTest {
    private final ExecutorService callers = Executors.newFixedThreadPool(64);
    private final List<List<BatchClient.Item>> sent = new CopyOnWriteArrayList<>();
    private BatchingTrack batches;

    @AfterEach
    void stop() {
        callers.shutdownNow();
        if (batches != null) {
            batches.close();
        }
    }

    /** A Customer.io that answers each batch with what {@code answer} says, recording what it was sent. */
    private BatchingTrack track(int maxItems, Duration maxWait, Function<List<BatchClient.Item>, BatchClient.Response> answer) {
        BatchClient client = new BatchClient() {
            @Override
            public Response send(List<Item> items) {
                sent.add(List.copyOf(items));
                return answer.apply(items);
            }

            @Override
            public RegionCheck region() {
                throw new UnsupportedOperationException();
            }

            @Override
            public void reloadCredentials() { }
        };
        batches = new BatchingTrack(client, maxItems, maxWait, 1000, 0, Duration.ofSeconds(2), new SimpleMeterRegistry());
        return batches;
    }

    private static BatchClient.Response ok(int status, Map<Integer, String> refused) {
        return new BatchClient.Response(status, TrackResult.classify(status), Optional.empty(), refused, "http " + status,
                Duration.ofMillis(3));
    }

    private List<TrackResult> callAll(BatchingTrack t, TrackOperation op, int n) throws Exception {
        List<CompletableFuture<TrackResult>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Identifier id = Identifier.id("p-" + i);
            futures.add(CompletableFuture.supplyAsync(() -> op == TrackOperation.SUPPRESS ? t.suppress(id) : t.destroy(id), callers));
        }
        List<TrackResult> out = new ArrayList<>();
        for (CompletableFuture<TrackResult> f : futures) {
            out.add(f.get(10, TimeUnit.SECONDS));
        }
        return out;
    }

    @Test
    void batchesArePacedPerRequestNotPerCallSoV1sPacerMetersAreAbsent() throws Exception {
        TrackPolicy policy = new TrackPolicy(1000, 3, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(30), Duration.ofMillis(50));
        SimpleMeterRegistry v1 = new SimpleMeterRegistry();
        new CallPacer(policy, v1, null);
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        new ErasureExecutor(track(10, Duration.ofMillis(5), items -> ok(200, Map.of())), policy, meters, null, true);
        for (String name : List.of(dev.cioerasure.metrics.MetricNames.RATE_LIMITER_WAIT, dev.cioerasure.metrics.MetricNames.RATE_BACKOFFS,
                "resilience4j.ratelimiter.available.permissions")) {
            assertThat(v1.find(name).meter()).as(name + " with v1").isNotNull();
            assertThat(meters.find(name).meter()).as(name + " with batches").isNull();
        }
        // a batch answered 429 lowers no per-call rate: the batches' own window paces the requests
        ErasureExecutor executor = new ErasureExecutor(track(10, Duration.ofMillis(5), items -> ok(items.size() > 0 ? 429 : 200, Map.of())),
                policy, meters, null, true);
        assertThat(executor.erase(Identifier.id("p-429")).verdict()).isNotNull();
        assertThat(executor.callsPerSecond()).isEqualTo(1000);
    }

    @Test
    void callsLeaveTogetherWhenABatchIsFullOrItsOldestHasWaitedAndNeverMixOperations() throws Exception {
        BatchingTrack t = track(10, Duration.ofMillis(200), items -> ok(200, Map.of()));
        List<TrackResult> results = callAll(t, TrackOperation.SUPPRESS, 25);
        assertThat(results).allMatch(TrackResult::isSuccess);
        assertThat(sent.stream().mapToInt(List::size).sum()).isEqualTo(25);
        assertThat(sent).allMatch(b -> b.size() <= 10);
        assertThat(sent.stream().filter(b -> b.size() == 10).count()).as("full batches go at once").isEqualTo(2);
        callAll(t, TrackOperation.DESTROY, 3);
        assertThat(sent).allMatch(b -> b.stream().map(BatchClient.Item::operation).distinct().count() == 1);
        assertThat(sent.get(sent.size() - 1)).as("a partial batch goes after its wait").hasSize(3);
    }

    @Test
    void a207RefusesOnlyTheListedItemsAndTheRestWereAccepted() throws Exception {
        BatchingTrack t = track(100, Duration.ofMillis(100), items -> {
            Map<Integer, String> refused = new HashMap<>();
            for (int i = 0; i < items.size(); i++) {
                if (items.get(i).identifier().value().equals("p-3")) {
                    refused.put(i, "batch item refused: invalid identifiers");
                }
            }
            return ok(refused.isEmpty() ? 200 : 207, refused);
        });
        List<TrackResult> results = callAll(t, TrackOperation.SUPPRESS, 8);
        assertThat(results.get(3).kind()).isEqualTo(TrackResult.Kind.PERMANENT);
        assertThat(results.get(3).detail()).isEqualTo("batch item refused: invalid identifiers");
        assertThat(results.get(3).status()).isEqualTo(207);
        results.remove(3);
        assertThat(results).allMatch(TrackResult::isSuccess);
    }

    @Test
    void aWholeBatch400IsBisectedDownToTheItemThatCausesIt() throws Exception {
        BatchingTrack t = track(16, Duration.ofMillis(100), items -> items.stream().anyMatch(i -> i.identifier().value().equals("p-5"))
                ? new BatchClient.Response(400, TrackResult.Kind.PERMANENT, Optional.empty(), Map.of(), "http 400", Duration.ofMillis(1))
                : ok(200, Map.of()));
        List<TrackResult> results = callAll(t, TrackOperation.SUPPRESS, 16);
        assertThat(results.get(5).kind()).isEqualTo(TrackResult.Kind.PERMANENT);
        assertThat(results.get(5).detail()).isEqualTo("http 400: the batch refused this item");
        assertThat(results.stream().filter(TrackResult::isSuccess).count()).isEqualTo(15);
        assertThat(sent.size()).as("log2(16) levels of halves: far fewer requests than one per item").isLessThanOrEqualTo(1 + 2 * 4);
        assertThat(sent.stream().filter(b -> b.size() == 1).map(b -> b.get(0).identifier().value()).toList()).contains("p-5");
    }

    /**
     * Customer.io takes a batch request only under 500 KB. Counting items alone, 1,000 of the
     * longest email addresses the contract admits (254 characters of three UTF-8 bytes each) made
     * one body of over 800 KB; a batch is now cut where its body would reach the limit.
     */
    @Test
    void aBatchIsCutBeforeItsBodyReachesTheDocumentedSizeLimit() throws Exception {
        BatchingTrack t = track(1000, Duration.ofMillis(200), items -> ok(200, Map.of()));
        List<CompletableFuture<TrackResult>> futures = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            String local = String.format("%04d", i) + "\u4e2d".repeat(245); // 249 characters, 739 bytes
            futures.add(t.send(TrackOperation.DESTROY, Identifier.email(local + "@x.io")));
        }
        for (CompletableFuture<TrackResult> f : futures) {
            assertThat(f.get(10, TimeUnit.SECONDS).isSuccess()).isTrue();
        }
        assertThat(sent.stream().mapToInt(List::size).sum()).as("every call sent once").isEqualTo(1000);
        assertThat(sent.size()).as("cut by size, not by the 1,000 items").isGreaterThan(1);
        for (List<BatchClient.Item> batch : sent) {
            int bytes = BatchClient.ENVELOPE_BYTES - 1 + batch.stream().mapToInt(BatchClient::encodedSize).sum();
            assertThat(bytes).isLessThan(500_000);
        }
    }

    @Test
    void aWholeBatch413IsBisectedLikeA400() throws Exception {
        BatchingTrack t = track(16, Duration.ofMillis(100), items -> items.size() > 4
                ? new BatchClient.Response(413, TrackResult.Kind.PERMANENT, Optional.empty(), Map.of(), "http 413", Duration.ofMillis(1))
                : ok(200, Map.of()));
        List<TrackResult> results = callAll(t, TrackOperation.SUPPRESS, 16);
        assertThat(results).allMatch(TrackResult::isSuccess);
        assertThat(sent.stream().map(List::size).toList()).contains(16, 8, 4);
    }

    @Test
    void aRetryableOrRefusedBatchIsEveryItemsResultWithItsRetryAfter() throws Exception {
        BatchingTrack t = track(50, Duration.ofMillis(50), items -> new BatchClient.Response(429, TrackResult.Kind.RETRYABLE,
                Optional.of(Duration.ofSeconds(2)), Map.of(), "http 429", Duration.ofMillis(1)));
        List<TrackResult> results = callAll(t, TrackOperation.DESTROY, 5);
        assertThat(results).allMatch(r -> r.isRetryable() && r.status() == 429 && r.retryAfter().equals(Optional.of(Duration.ofSeconds(2))));
        assertThat(Set.copyOf(results.stream().map(TrackResult::operation).toList())).containsExactly(TrackOperation.DESTROY);
    }

    @Test
    void batchRequestsArePacedByTheGrantNotByTheItemsTheyCarry() throws Exception {
        // batches close when full, never on time: a busy machine that hands over the 20 items slowly
        // must not split them into more batches (one run sent 5 with a 20 ms wait)
        BatchingTrack t = track(5, Duration.ofSeconds(30), items -> ok(200, Map.of()));
        t.setGrant(2, Long.MAX_VALUE); // two batch requests in any second
        long start = System.nanoTime();
        callAll(t, TrackOperation.SUPPRESS, 20); // four batches of five
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(sent).hasSize(4);
        assertThat(seconds).as("four requests at two a second (each slot held a second after its answer)").isGreaterThan(1.0);
        assertThat(t.callsPerSecond()).isEqualTo(2);
    }
}
