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
}
