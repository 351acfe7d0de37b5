package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class ArrivalWindowTest {
    private static final long MS = 1_000_000L;
    private static final long S = ArrivalWindow.WINDOW_NANOS;
    private final AtomicLong now = new AtomicLong(1_000 * S);

    @Test
    void aSlotIsHeldFromTheStartUntilASecondAfterTheResponse() {
        ArrivalWindow w = new ArrivalWindow(2, 2 * S, now::get);
        assertThat(w.tryAcquire()).isZero();
        assertThat(w.tryAcquire()).isZero();
        assertThat(w.tryAcquire()).as("both slots held by calls in flight").isPositive();
        now.addAndGet(50 * MS);
        w.finished(true);
        now.addAndGet(999 * MS);
        assertThat(w.tryAcquire()).as("answered 999 ms ago: still counts").isEqualTo(1 * MS);
        now.addAndGet(1 * MS);
        assertThat(w.tryAcquire()).isZero();
    }

    @Test
    void aCallWithoutAnAnswerHoldsItsSlotForTheGraceToo() {
        ArrivalWindow w = new ArrivalWindow(1, 2 * S, now::get);
        assertThat(w.tryAcquire()).isZero();
        w.finished(false);
        now.addAndGet(2 * S);
        assertThat(w.tryAcquire()).isPositive();
        now.addAndGet(S);
        assertThat(w.tryAcquire()).isZero();
    }

    @Test
    void aCallWithoutAnAnswerKeepsOnlyItsOwnSlotLonger() {
        // One timeout must not hold the slots of the calls answered after it for its grace too:
        // that would stall every start for up to two seconds after each stray timeout.
        ArrivalWindow w = new ArrivalWindow(2, 2 * S, now::get);
        assertThat(w.tryAcquire()).isZero();
        assertThat(w.tryAcquire()).isZero();
        w.finished(false);             // held until +3 s
        now.addAndGet(10 * MS);
        w.finished(true);              // held until +1.01 s
        now.addAndGet(S);
        assertThat(w.occupied()).isEqualTo(1);
        assertThat(w.tryAcquire()).as("the answered call's slot is free a second after its answer").isZero();
        assertThat(w.tryAcquire()).as("the unanswered one's is not").isEqualTo(2 * S - 10 * MS);
    }

    /**
     * Simulated calls with random latencies and arrival points: however the server draws its
     * one-second window, it never sees more arrivals than the limit.
     */
    @Test
    void noOneSecondWindowOfArrivalsEverHoldsMoreThanTheLimit() {
        int limit = 20;
        ArrivalWindow w = new ArrivalWindow(limit, 2 * S, now::get);
        Random random = new Random(42);
        List<long[]> inFlight = new ArrayList<>(); // {end, arrival}
        List<Long> arrivals = new ArrayList<>();
        for (long step = 0; step < 200_000; step++) {
            now.addAndGet(random.nextInt(3 * (int) MS));
            for (int i = inFlight.size() - 1; i >= 0; i--) {
                if (inFlight.get(i)[0] <= now.get()) {
                    inFlight.remove(i);
                    w.finished(true);
                }
            }
            if (w.tryAcquire() == 0) {
                long latency = random.nextInt(200) * MS;
                long arrival = now.get() + (long) (random.nextDouble() * latency); // anywhere between start and response
                inFlight.add(new long[] {now.get() + latency, arrival});
                arrivals.add(arrival);
            }
        }
        long[] t = arrivals.stream().mapToLong(Long::longValue).sorted().toArray();
        int most = 0;
        for (int end = 0, start = 0; end < t.length; end++) {
            while (t[end] - t[start] >= S) {
                start++;
            }
            most = Math.max(most, end - start + 1);
        }
        assertThat(t.length).isGreaterThan(3_000);
        assertThat(most).isEqualTo(limit);
    }

    @Test
    void aLowerLimitStopsNewStartsUntilTheWindowHasDrained() {
        ArrivalWindow w = new ArrivalWindow(3, 0, now::get);
        for (int i = 0; i < 3; i++) {
            assertThat(w.tryAcquire()).isZero();
        }
        w.setLimit(1);
        w.finished(true);
        w.finished(true);
        assertThat(w.occupied()).isEqualTo(3);
        now.addAndGet(S);
        assertThat(w.occupied()).isEqualTo(1);
        assertThat(w.tryAcquire()).isPositive();
        w.finished(true);
        now.addAndGet(S);
        assertThat(w.tryAcquire()).isZero();
    }

    @Test
    void waitersGetFreedSlotsFirstComeFirstServedOneWakeUpAtATime() throws Exception {
        ArrivalWindow w = new ArrivalWindow(1, 0, System::nanoTime);
        w.acquire();
        List<Integer> order = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            Thread t = new Thread(() -> {
                w.acquire();
                order.add(n);
                w.cancel(); // hands the slot to the next in line
            });
            t.start();
            threads.add(t);
            int queuedBefore = i + 1;
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> w.queued() == queuedBefore);
        }
        assertThat(order).as("no one gets the held slot").isEmpty();
        w.cancel();
        for (Thread t : threads) {
            t.join(5_000);
        }
        assertThat(order).containsExactly(0, 1, 2, 3, 4);
        assertThat(w.queued()).isZero();
        assertThat(w.occupied()).isZero();
    }

    @Test
    void anInterruptedWaiterLeavesTheQueueAndTheNextOneMovesUp() throws Exception {
        ArrivalWindow w = new ArrivalWindow(1, 0, System::nanoTime);
        w.acquire();
        AtomicReference<Throwable> first = new AtomicReference<>();
        Thread a = new Thread(() -> {
            try {
                w.acquire();
            } catch (RuntimeException e) {
                first.set(e);
            }
        });
        a.start();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> w.queued() == 1);
        Thread b = new Thread(w::acquire);
        b.start();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> w.queued() == 2);
        a.interrupt();
        a.join(5_000);
        assertThat(first.get()).isInstanceOf(CancellationException.class);
        w.cancel();
        b.join(5_000);
        assertThat(b.isAlive()).isFalse();
        assertThat(w.occupied()).isEqualTo(1);
    }
}
