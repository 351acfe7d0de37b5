package dev.cioerasure.audit;

import dev.cioerasure.threads.DaemonThreads;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;

/**
 * One thread that serves queued items in batches against the database, the way the audit writer
 * and the duplicate check both need it: it gathers whatever is queued (up to a weight), hands the
 * batch to the work, and on any failure keeps the same batch and tries it again with backoff
 * (100 ms doubling to a ceiling), for as long as it takes. Nothing is dropped or guessed while
 * the database is away; items fail only when the loop stops.
 *
 * @param <T> a queued item; it carries its own future, which the work completes on success
 */
final class BatchingLoop<T> {

    /** What to do with a batch. Throwing means: keep the batch and try again. */
    interface Work<T> {
        void run(List<T> batch) throws Exception;
    }

    /** What the owner does when a batch fails (log, metrics) or, after failures, succeeds again. */
    interface Health {
        void failed(Throwable error, int batchSize, boolean firstSinceSuccess);

        default void recovered() { }
    }

    /** Fails an item that the loop will not serve (stopped). */
    interface Abandon<T> {
        void fail(T item, Exception why);
    }

    private static final Object POISON = new Object();

    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final int maxWeight;
    private final ToIntFunction<T> weight;
    private final Work<T> work;
    private final Health health;
    private final Abandon<T> abandon;
    private final long maxBackoffMillis;
    private final Thread thread;
    private volatile boolean stopNow;

    BatchingLoop(String threadName, int maxWeight, ToIntFunction<T> weight, Duration maxBackoff, Work<T> work, Health health,
                 Abandon<T> abandon) {
        this.maxWeight = maxWeight;
        this.weight = weight;
        this.work = work;
        this.health = health;
        this.abandon = abandon;
        this.maxBackoffMillis = maxBackoff.toMillis();
        this.thread = DaemonThreads.of(this::run, threadName);
        thread.start();
    }

    void submit(T item) {
        queue.add(item);
    }

    /** Serves what is queued, for at most {@code timeout}, then stops; returns false if it had to give up. */
    boolean stopAfterDraining(Duration timeout) throws InterruptedException {
        queue.add(POISON);
        thread.join(timeout.toMillis());
        if (thread.isAlive()) {
            stopNow();
            thread.join(1000);
            return false;
        }
        return true;
    }

    /** Stops at once; what is queued or in the current batch fails. */
    void stopNow() {
        stopNow = true;
        thread.interrupt();
    }

    @SuppressWarnings("unchecked")
    private void run() {
        List<T> batch = new ArrayList<>();
        long backoff = 100;
        boolean healthy = true;
        try {
            while (!stopNow) {
                if (batch.isEmpty()) {
                    Object first = queue.poll(200, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    if (first == POISON) {
                        return;
                    }
                    batch.add((T) first);
                    int total = weight.applyAsInt((T) first);
                    Object next;
                    while (total < maxWeight && (next = queue.peek()) != null && next != POISON) {
                        queue.poll();
                        batch.add((T) next);
                        total += weight.applyAsInt((T) next);
                    }
                }
                try {
                    work.run(batch);
                    batch.clear();
                    backoff = 100;
                    if (!healthy) {
                        health.recovered();
                    }
                    healthy = true;
                } catch (Exception | AssertionError | LinkageError e) {
                    // Anything a broken connection can throw (the driver even throws AssertionError
                    // under -ea): this thread must never die, or every item after it would wait forever.
                    if (Thread.currentThread().isInterrupted() || stopNow) {
                        return;
                    }
                    health.failed(e, batch.size(), healthy);
                    healthy = false;
                    Thread.sleep(backoff);
                    backoff = Math.min(backoff * 2, maxBackoffMillis);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            Exception stopped = new java.util.concurrent.CancellationException("stopped");
            batch.forEach(item -> abandon.fail(item, stopped));
            Object left;
            while ((left = queue.poll()) != null) {
                if (left != POISON) {
                    abandon.fail((T) left, stopped);
                }
            }
        }
    }
}
