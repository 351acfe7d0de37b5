package dev.cioerasure.customerio;

import dev.cioerasure.request.Identifier;
import java.time.Clock;

/**
 * The narrow face of Customer.io's App API this project needs: whether a person still exists.
 * Implementations never throw for a failed call; every outcome comes back classified.
 */
public interface AppClient {

    /** {@code GET /v1/customers/{identifier}/attributes?id_type=…}: 404 means the person does not exist. */
    PresenceResult lookup(Identifier identifier);

    /** The real client over HTTP (JDK {@code HttpClient}). */
    static AppClient http(AppEndpoint endpoint, Clock clock) {
        return new HttpAppClient(endpoint, clock);
    }
}
