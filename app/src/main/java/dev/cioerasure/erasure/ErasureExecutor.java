package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.request.Identifier;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

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
        this(new ResilientTrack(batches, policy, meters, workspace, waitWhilePaused, CallPacing.BY_THE_CLIENT), batches);
    }

    /** The calls through this track, the group's grant applied to this pacing. */
    ErasureExecutor(ResilientTrack track, Paced pacing) {
        this.track = track;
        this.pacing = pacing;
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

    /** Stops: calls not finished (and those queued in the batch sender, if any) are handed back. */
    public void close() {
        track.close();
        if (pacing instanceof BatchingTrack batches) {
            batches.close();
        }
    }

    /**
     * {@link #eraseAsync}, waited for.
     *
     * @throws java.util.concurrent.CancellationException when interrupted or closed (shutdown) mid-way
     */
    public ErasureResult erase(Identifier identifier) {
        return await(eraseAsync(identifier, false));
    }

    /**
     * Suppress, then destroy (only after an accepted suppress), holding no thread while a call
     * waits (its batch, a retry's backoff, a paused workspace).
     *
     * @param suppressedBefore the suppression was accepted in an earlier round: only destroy
     * @return the result; fails with a {@link java.util.concurrent.CancellationException} on
     *         shutdown (the request is handed back, not audited)
     */
    public CompletableFuture<ErasureResult> eraseAsync(Identifier identifier, boolean suppressedBefore) {
        if (suppressedBefore) {
            return track.callAsync(TrackOperation.DESTROY, identifier).thenApply(destroy -> new ErasureResult(null, destroy));
        }
        return track.callAsync(TrackOperation.SUPPRESS, identifier).thenCompose(suppress -> suppress.last().isSuccess()
                ? track.callAsync(TrackOperation.DESTROY, identifier).thenApply(destroy -> new ErasureResult(suppress, destroy))
                // Never destroy before an accepted suppress; a PAUSED suppress made no call at all.
                : CompletableFuture.completedFuture(new ErasureResult(suppress, null)));
    }

    /** The future's value; its failure as thrown (a {@link CancellationException} when interrupted). */
    static <T> T await(CompletableFuture<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while waiting for Customer.io");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException c && c.getCause() != null ? c.getCause() : e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new CompletionException(cause);
        }
    }
}
