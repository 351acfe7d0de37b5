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
public final class ErasureExecutor {
    private final ResilientTrack track;

    public ErasureExecutor(TrackClient client, TrackPolicy policy, MeterRegistry meters) {
        this.track = new ResilientTrack(client, policy, meters);
    }

    /**
     * Sets this instance's share of the group-wide Track rate: {@code groupLimit × share},
     * rounded down so that the instances' rates never add up to more than the limit.
     */
    public void setShareOfGroupLimit(int groupLimit, double share) {
        double s = Math.max(0, Math.min(1, share));
        track.changeRate((int) Math.floor(groupLimit * s));
    }

    /** Track calls per second this instance may make now. */
    public int callsPerSecond() {
        return track.callsPerSecond();
    }

    /**
     * @throws java.util.concurrent.CancellationException when interrupted (shutdown) mid-way
     */
    public ErasureResult erase(Identifier identifier) {
        StepResult suppress = track.call(TrackOperation.SUPPRESS, identifier);
        if (!suppress.last().isSuccess()) {
            return new ErasureResult(suppress, null);
        }
        StepResult destroy = track.call(TrackOperation.DESTROY, identifier);
        return new ErasureResult(suppress, destroy);
    }
}
