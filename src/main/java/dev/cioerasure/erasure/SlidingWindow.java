package dev.cioerasure.erasure;

/**
 * A hard cap on calls actually started in any window of one second: a ring of the last
 * {@code capacity} start times. The rate limiter paces calls into short periods, but a thread
 * that was given a permit can still start late (a busy machine), bunching calls together; this
 * guard makes sure that, whatever the scheduling, no one-second window ever holds more than the
 * instance's share — so the shares of the group never add up to more than Customer.io's limit.
 */
final class SlidingWindow {
    static final long WINDOW_NANOS = 1_000_000_000L;

    private final long[] starts;
    private int next;
    private int size;

    SlidingWindow(int capacity) {
        this.starts = new long[Math.max(1, capacity)];
    }

    /**
     * Records a call starting now if the window has room.
     *
     * @return 0 when the call may start (and was recorded); otherwise the nanoseconds to wait
     */
    synchronized long tryStart(long nowNanos) {
        if (size == starts.length) {
            long oldest = starts[next];
            long wait = oldest + WINDOW_NANOS - nowNanos;
            if (wait > 0) {
                return wait;
            }
        } else {
            size++;
        }
        starts[next] = nowNanos;
        next = (next + 1) % starts.length;
        return 0;
    }

    /** A window of another capacity that still counts the calls of the last second. */
    synchronized SlidingWindow resized(int capacity) {
        SlidingWindow w = new SlidingWindow(capacity);
        int keep = Math.min(size, w.starts.length);
        for (int i = keep; i > 0; i--) {
            int idx = Math.floorMod(next - i, starts.length);
            w.starts[w.next] = starts[idx];
            w.next = (w.next + 1) % w.starts.length;
            w.size++;
        }
        return w;
    }
}
