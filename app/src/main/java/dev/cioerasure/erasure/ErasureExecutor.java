package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.request.Identifier;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Erases one person in Customer.io: suppress (delete and block re-adding), then destroy (make
 * sure the profile is gone). Both calls are idempotent, so running a request again after a
 * crash is safe. Thread-safe; many requests run at once, sharing one rate limiter.
 */
public final class ErasureExecutor implements Paced {
    private final ResilientTrack track;
    /** What the group's grant paces: each call (v1's pacer) or each batch request. */
    private final Paced pacing;

    /** The single workspace: calls wait while it is paused (the consumer pauses through back-pressure). */
    public ErasureExecutor(TrackClient client, TrackPolicy policy, MeterRegistry meters) {
        this(client, policy, meters, null, true);
    }

    /**
     * @param workspace       the workspace's name, for log lines (null: the single workspace)
     * @param waitWhilePaused false when several workspaces share the worker: while this one is
     *                        paused (outage, refused credentials) its steps return at once as
     *                        {@link ErasureResult.Verdict#PAUSED}, holding no thread
     */
    public ErasureExecutor(TrackClient client, TrackPolicy policy, MeterRegistry meters, String workspace, boolean waitWhilePaused) {
        CallPacer pacer = new CallPacer(policy, meters, workspace);
        this.track = new ResilientTrack(client, policy, meters, workspace, waitWhilePaused, pacer);
        this.pacing = pacer;
    }

    /**
     * Calls gathered into Track v2 batches: retries, breaker and credential gate per call as in v1;
     * the pacing (the group's grant) is the batches', which count requests, not calls.
     */
    public ErasureExecutor(BatchingTrack batches, TrackPolicy policy, MeterRegistry meters, String workspace, boolean waitWhilePaused) {
        this.track = new ResilientTrack(batches, policy, meters, workspace, waitWhilePaused, CallPacing.BY_THE_CLIENT);
        this.pacing = batches;
    }

    /**
     * Sets this instance's grant of the group's Track budget, valid until the given
     * {@link System#nanoTime()}: after that no call starts until the grant is renewed.
     */
    @Override
    public void setGrant(int callsPerSecond, long validUntilNanos) {
        pacing.setGrant(callsPerSecond, validUntilNanos);
    }

    /** Slots of the arrival window held now (calls in flight, or answered within the last second). */
    @Override
    public int occupied() {
        return pacing.occupied();
    }

    /** Calls waiting for a permit now: demand beyond the current grant. */
    @Override
    public int waiting() {
        return pacing.waiting();
    }

    /** Track calls (batch requests, with batches) per second this instance may make now. */
    @Override
    public int callsPerSecond() {
        return pacing.callsPerSecond();
    }

    /** Stops the batch sender, if any (calls still queued are handed back). */
    public void close() {
        if (pacing instanceof BatchingTrack batches) {
            batches.close();
        }
    }

    /**
     * @throws java.util.concurrent.CancellationException when interrupted (shutdown) mid-way
     */
    public ErasureResult erase(Identifier identifier) {
        return erase(identifier, false);
    }

    /**
     * @param suppressedBefore the suppression was accepted in an earlier round: only destroy
     * @throws java.util.concurrent.CancellationException when interrupted (shutdown) mid-way
     */
    public ErasureResult erase(Identifier identifier, boolean suppressedBefore) {
        if (suppressedBefore) {
            return new ErasureResult(null, track.call(TrackOperation.DESTROY, identifier));
        }
        StepResult suppress = track.call(TrackOperation.SUPPRESS, identifier);
        if (!suppress.last().isSuccess()) {
            // Never destroy before an accepted suppress; a PAUSED suppress made no call at all.
            return new ErasureResult(suppress, null);
        }
        StepResult destroy = track.call(TrackOperation.DESTROY, identifier);
        return new ErasureResult(suppress, destroy);
    }
}
