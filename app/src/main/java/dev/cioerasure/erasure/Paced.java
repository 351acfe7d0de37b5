package dev.cioerasure.erasure;

/**
 * Calls paced by a grant of a group-wide budget (the worker's {@code GroupRateBudget} leases it):
 * how many slots of the one-second arrival window this instance may hold, and what it uses.
 */
public interface Paced {

    /**
     * Sets this instance's grant, valid until the given {@link System#nanoTime()}: after that no
     * call starts until the grant is renewed.
     */
    void setGrant(int callsPerSecond, long validUntilNanos);

    /** Slots of the arrival window held now (calls in flight, or answered within the last second). */
    int occupied();

    /** Calls waiting for a slot now: demand beyond the current grant. */
    int waiting();

    /** Calls (or, for batches, requests) per second this instance may make now: its grant, as paced. */
    int callsPerSecond();
}
