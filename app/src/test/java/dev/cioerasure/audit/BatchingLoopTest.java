package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatchingLoopTest {
    private record Item(int weight, CompletableFuture<Integer> done) {
        Item(int weight) {
            this(weight, new CompletableFuture<>());
        }
    }

    @Test
    void aFailedBatchIsKeptAndTriedAgainUntilItSucceedsWithoutDroppingAnItem() throws Exception {
        AtomicInteger failuresLeft = new AtomicInteger(3);
        List<Boolean> firstFlags = new CopyOnWriteArrayList<>();
        AtomicInteger recovered = new AtomicInteger();
        List<List<Integer>> served = new CopyOnWriteArrayList<>();
        BatchingLoop<Item> loop = new BatchingLoop<>("test-loop", 10, Item::weight, Duration.ofMillis(200), batch -> {
            if (failuresLeft.getAndDecrement() > 0) {
                throw new java.sql.SQLException("database away", "08006");
            }
            served.add(batch.stream().map(Item::weight).toList());
            batch.forEach(i -> i.done().complete(i.weight()));
        }, new BatchingLoop.Health() {
            @Override
            public void failed(Throwable error, int batchSize, boolean firstSinceSuccess) {
                firstFlags.add(firstSinceSuccess);
            }

            @Override
            public void recovered() {
                recovered.incrementAndGet();
            }
        }, (i, why) -> i.done().completeExceptionally(why));
        List<Item> items = new ArrayList<>();
        for (int w : new int[] {4, 4, 4, 1}) {
            Item i = new Item(w);
            items.add(i);
            loop.submit(i);
        }
        for (Item i : items) {
            assertThat(i.done().get(10, TimeUnit.SECONDS)).isEqualTo(i.weight());
        }
        assertThat(firstFlags).containsExactly(true, false, false);
        assertThat(recovered).hasValue(1);
        assertThat(served.stream().mapToInt(List::size).sum()).isEqualTo(4);
        assertThat(served).allSatisfy(b -> assertThat(b.stream().mapToInt(Integer::intValue).sum() - b.get(b.size() - 1))
                .as("a batch stops growing once it reaches the weight").isLessThan(10));
        loop.stopNow();
    }

    @Test
    void stoppingAfterDrainingServesWhatIsQueuedAndStoppingNowFailsIt() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        BatchingLoop<Item> loop = new BatchingLoop<>("test-loop", 1, Item::weight, Duration.ofMillis(100), batch -> {
            release.await();
            batch.forEach(i -> i.done().complete(1));
        }, (e, n, first) -> { }, (i, why) -> i.done().completeExceptionally(why));
        Item a = new Item(1);
        Item b = new Item(1);
        loop.submit(a);
        loop.submit(b);
        release.countDown();
        assertThat(loop.stopAfterDraining(Duration.ofSeconds(10))).isTrue();
        assertThat(a.done().get()).isEqualTo(1);
        assertThat(b.done().get()).isEqualTo(1);

        CountDownLatch never = new CountDownLatch(1);
        BatchingLoop<Item> stuck = new BatchingLoop<>("test-loop-2", 1, Item::weight, Duration.ofMillis(100), batch -> never.await(),
                (e, n, first) -> { }, (i, why) -> i.done().completeExceptionally(why));
        Item c = new Item(1);
        Item d = new Item(1);
        stuck.submit(c);
        stuck.submit(d);
        assertThat(stuck.stopAfterDraining(Duration.ofMillis(300))).as("gave up").isFalse();
        for (Item i : List.of(c, d)) {
            assertThatThrownBy(() -> i.done().get(5, TimeUnit.SECONDS)).as("failed, not left waiting").isInstanceOf(CancellationException.class);
        }
    }
}
