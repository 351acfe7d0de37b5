package dev.cioerasure.customerio;

import dev.cioerasure.config.Secret;
import java.net.URI;
import java.time.Duration;

/**
 * Where and as whom to call the Track API. The key is read on every call, so a rotated key file
 * takes effect on the next request without a restart.
 */
public record TrackEndpoint(URI baseUrl, String siteId, Secret apiKey, Duration connectTimeout, Duration requestTimeout) {

    @Override
    public String toString() {
        return "TrackEndpoint[" + baseUrl + ", site " + siteId + ", key [hidden]]";
    }
}
