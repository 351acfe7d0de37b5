package dev.cioerasure.customerio;

import java.time.Duration;
import java.util.Optional;

/**
 * Why a Track call must not be sent now, as the result it comes back with instead (no status):
 * asked before every call, in this order, by the HTTP clients.
 */
@FunctionalInterface
interface CallHold {
    /** Nothing held back. */
    CallHold NONE = op -> Optional.empty();

    Optional<TrackResult> heldBack(TrackOperation op);

    /**
     * The workspace's key file names another workspace's site id ({@link SiteIdGuard}: refused,
     * {@link SiteIdGuard#NOT_SENT}), or its Track URL has not refused a made-up key lately
     * ({@link TrackUrlWatch}).
     */
    static CallHold of(SiteIdGuard guard, String workspace, TrackUrlWatch watch) {
        return op -> guard.conflict(workspace)
                .map(why -> new TrackResult(op, 0, TrackResult.Kind.UNAUTHORIZED, Optional.empty(), SiteIdGuard.NOT_SENT, Duration.ZERO))
                .or(() -> watch.holdBack(op));
    }
}
