package dev.cioerasure.erasure;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An {@link ArrivalWindow} sized by this instance's grant of a group budget, whose slots are
 * taken only while the grant's lease is valid: how Track v2 batch requests and App API look-ups
 * are paced. (v1's single calls add a rate limiter and a back-off after 429s: {@link CallPacer}.)
 */
final class LeasedWindow implements Paced {
    private final ArrivalWindow window;
    private final int headroomPercent;
    private final String waitingFor;
    private final AtomicInteger waiting = new AtomicInteger();
    /** The grant may be used until this nanoTime (a lease of the group budget); unlimited without one. */
    private volatile long grantValidUntil = Long.MAX_VALUE;

    /**
     * @param callsPerSecond  the limit until a grant is set
     * @param headroomPercent pace this much below the grant
     * @param unansweredGrace how much longer a call without a response holds its slot
     * @param waitingFor      what a caller waits for while the lease has run out (for the
     *                        message of a shutdown that interrupts it)
     */
    LeasedWindow(int callsPerSecond, int headroomPercent, Duration unansweredGrace, String waitingFor) {
        this.headroomPercent = headroomPercent;
        this.waitingFor = waitingFor;
        this.window = new ArrivalWindow(CallPacer.effective(Math.max(0, callsPerSecond), headroomPercent, 1.0),
                unansweredGrace.toNanos(), System::nanoTime);
    }

    /**
     * Waits for a valid lease and a slot of the window. A slot that came only after the lease ran
     * out is given back: no call starts on an expired grant.
     *
     * @throws java.util.concurrent.CancellationException when interrupted (shutdown) while waiting
     */
    void acquire() {
        waiting.incrementAndGet();
        try {
            while (true) {
                if (System.nanoTime() >= grantValidUntil) {
                    Backoff.sleep(Duration.ofMillis(20), waitingFor);
                    continue;
                }
                window.acquire();
                if (System.nanoTime() < grantValidUntil) {
                    return;
                }
                window.cancel();
            }
        } finally {
            waiting.decrementAndGet();
        }
    }

    /** The call that took a slot ended, answered (a status) or not: its slot stays held a second longer (more without an answer). */
    void finished(boolean answered) {
        window.finished(answered);
    }

    @Override
    public void setGrant(int callsPerSecond, long validUntilNanos) {
        grantValidUntil = validUntilNanos;
        window.setLimit(CallPacer.effective(Math.max(0, callsPerSecond), headroomPercent, 1.0));
    }

    @Override
    public int occupied() {
        return window.occupied();
    }

    @Override
    public int waiting() {
        return waiting.get();
    }

    @Override
    public int callsPerSecond() {
        return window.limit();
    }
}
