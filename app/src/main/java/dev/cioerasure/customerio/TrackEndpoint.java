package dev.cioerasure.customerio;

import dev.cioerasure.config.Secret;
import java.net.URI;
import java.time.Duration;

/**
 * Where and as whom to call the Track API. The key is read on every call, so a rotated key file
 * takes effect on the next request without a restart.
 *
 * <p>Customer.io issues Track credentials as sets: a new set has a site id of its own. So the key
 * may also be written {@code SITE_ID:API_KEY}, and then its site id is used instead of the
 * configured one: rotating to a new set is one write of one file, with no moment at which a new
 * key meets the old site id.
 */
public record TrackEndpoint(URI baseUrl, String siteId, Secret apiKey, Duration connectTimeout, Duration requestTimeout) {

    /**
     * Credentials of no workspace (a made-up site id and key) at this base URL: Customer.io refuses
     * them (401), and no workspace's rate limit can count the call as its own. Whatever accepts
     * them is not Customer.io, and its answers would be recorded as erasures.
     */
    public static TrackEndpoint madeUp(URI baseUrl, Duration connectTimeout, Duration requestTimeout) {
        return new TrackEndpoint(baseUrl, "cio-erasure-check", Secret.of("a made-up Track key",
                "cio-erasure-not-a-key-" + java.util.UUID.randomUUID()), connectTimeout, requestTimeout);
    }

    /** {@code site_id:api_key} for HTTP Basic auth: the key's own site id when it has one. */
    public String basicCredentials() {
        String key = apiKey.reveal().strip();
        return key.indexOf(':') > 0 ? key : siteId + ":" + key;
    }

    /** The site id the calls are made as (not a secret): the key's own when it has one. */
    public String siteIdInUse() {
        return dev.cioerasure.config.Settings.CustomerIo.siteIdInUse(siteId, apiKey);
    }

    @Override
    public String toString() {
        return "TrackEndpoint[" + baseUrl + ", site " + siteId + ", key [hidden]]";
    }
}
