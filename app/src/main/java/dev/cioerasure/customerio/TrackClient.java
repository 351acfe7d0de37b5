package dev.cioerasure.customerio;

import dev.cioerasure.request.Identifier;
import java.time.Clock;

/**
 * The narrow face of Customer.io's Track API this project needs. Implementations never throw
 * for a failed call: every outcome, including I/O errors and timeouts, comes back classified.
 */
public interface TrackClient {

    TrackResult suppress(Identifier identifier);

    TrackResult destroy(Identifier identifier);

    /** The credential/region check; no side effects. */
    RegionCheck region();

    /** Re-reads the credentials from their source (e.g. a rotated secret file) before the next call. */
    default void reloadCredentials() {
    }

    /** The real client over HTTP (JDK {@code HttpClient}). */
    static TrackClient http(TrackEndpoint endpoint, Clock clock) {
        return new HttpTrackClient(endpoint, clock);
    }

    /**
     * The real client, whose calls are not sent while {@code guard} finds its workspace calling
     * another one's site id, or while {@code watch} has not seen its Track URL refuse a made-up key.
     */
    static TrackClient http(TrackEndpoint endpoint, Clock clock, SiteIdGuard guard, String workspace, TrackUrlWatch watch) {
        return new HttpTrackClient(endpoint, clock, CallHold.of(guard, workspace, watch));
    }

    /**
     * The credential check at this base URL with credentials of no workspace
     * ({@link TrackEndpoint#madeUp}): a success means that what answers there does not check
     * Track credentials, so it is not Customer.io's Track API.
     */
    static TrackResult checkWithMadeUpCredentials(java.net.URI baseUrl, java.time.Duration connectTimeout,
                                                  java.time.Duration requestTimeout) {
        return http(TrackEndpoint.madeUp(baseUrl, connectTimeout, requestTimeout), Clock.systemUTC()).region().result();
    }
}
