package dev.cioerasure.erasure;

import java.util.ArrayDeque;
import java.util.PriorityQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * Bounds what a server counting <em>arrivals</em> in any one-second window can see: a call holds
 * a slot from the moment it starts until one second after its response arrived, and a call may
 * start only while fewer than {@code limit} slots are held.
 *
 * <p>Why this is enough: take any window {@code [t, t+1s)} the server may draw, and the calls
 * that arrived in it. The last of them to start, at {@code s}, started no later than its arrival,
 * so {@code s < t+1s}. Every other one started before {@code s}, and, having arrived at or after
 * {@code t}, got its response at or after {@code t}; so it still held its slot at {@code s}. When
 * the last one started, the others held slots, hence they are fewer than {@code limit}: at most
 * {@code limit} arrive in the window. A call that ends without a response (timeout, I/O error)
 * keeps its slot for {@code unansweredGrace} longer, as its request may still be on its way.
 *
 * <p>The cost: a slot is busy for latency + 1 s per call, so one instance reaches
 * {@code limit / (1 s + latency)} calls per second: 0.95 of the limit at 50 ms.
 */
final class ArrivalWindow {
    static final long WINDOW_NANOS = 1_000_000_000L;

    private final LongSupplier nanoClock;
    private final long unansweredGraceNanos;
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * Callers of {@link #acquire()} waiting for a slot, first come first served. Only the first
     * waits for time to pass; the others sleep until the one before them got its slot, so a
     * freed slot wakes one thread, not all of them (hundreds wait at the limit).
     */
    private final ArrayDeque<Condition> waiters = new ArrayDeque<>();
    /**
     * When each finished call stops counting, earliest first. Not in the order the calls
     * finished: an unanswered call counts longer (the grace), and the answered ones after it must
     * not wait for it.
     */
    private final PriorityQueue<Long> releases = new PriorityQueue<>();
    private int inFlight;
    private int limit;

    ArrivalWindow(int limit, long unansweredGraceNanos, LongSupplier nanoClock) {
        this.limit = Math.max(0, limit);
        this.unansweredGraceNanos = unansweredGraceNanos;
        this.nanoClock = nanoClock;
    }

    /** Slots held now: calls in flight plus calls answered less than a second ago. */
    int occupied() {
        lock.lock();
        try {
            purge(nanoClock.getAsLong());
            return inFlight + releases.size();
        } finally {
            lock.unlock();
        }
    }

    int limit() {
        lock.lock();
        try {
            return limit;
        } finally {
            lock.unlock();
        }
    }

    /** A new limit; calls already holding slots keep them (the window drains down to a lower limit). */
    void setLimit(int newLimit) {
        lock.lock();
        try {
            limit = Math.max(0, newLimit);
            wakeFirst();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes a slot now if one is free.
     *
     * @return 0 when taken; otherwise nanoseconds until one may be free (at the latest)
     */
    long tryAcquire() {
        lock.lock();
        try {
            long now = nanoClock.getAsLong();
            purge(now);
            if (inFlight + releases.size() < limit) {
                inFlight++;
                return 0;
            }
            Long first = releases.peek();
            return first != null ? Math.max(1, first - now) : 50_000_000L; // else wait for a call to finish
        } finally {
            lock.unlock();
        }
    }

    /** Waits for a slot, in turn with the other callers. */
    void acquire() {
        lock.lock();
        try {
            if (waiters.isEmpty() && tryAcquire() == 0) {
                return;
            }
            Condition mine = lock.newCondition();
            waiters.addLast(mine);
            try {
                while (true) {
                    if (waiters.peekFirst() == mine) {
                        long wait = tryAcquire();
                        if (wait == 0) {
                            return;
                        }
                        mine.awaitNanos(wait);
                    } else {
                        mine.await();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CancellationException("shutting down while waiting for room in the arrival window");
            } finally {
                waiters.remove(mine);
                wakeFirst(); // the next in line now waits for the next free slot
            }
        } finally {
            lock.unlock();
        }
    }

    /** Callers of {@link #acquire()} waiting now. */
    int queued() {
        lock.lock();
        try {
            return waiters.size();
        } finally {
            lock.unlock();
        }
    }

    /** Gives back a slot taken by {@link #acquire()} but never used for a call. */
    void cancel() {
        lock.lock();
        try {
            inFlight--;
            wakeFirst();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The call's response arrived (or it ended without one): its slot stays held for one more
     * second (plus the grace when unanswered).
     */
    void finished(boolean answered) {
        lock.lock();
        try {
            inFlight--;
            releases.add(nanoClock.getAsLong() + WINDOW_NANOS + (answered ? 0 : unansweredGraceNanos));
            wakeFirst(); // the first waiter's deadline may have been "until a call finishes"
        } finally {
            lock.unlock();
        }
    }

    private void purge(long now) {
        while (!releases.isEmpty() && releases.peek() <= now) {
            releases.poll();
        }
    }

    private void wakeFirst() {
        Condition first = waiters.peekFirst();
        if (first != null) {
            first.signal();
        }
    }
}
