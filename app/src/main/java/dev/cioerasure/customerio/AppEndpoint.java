package dev.cioerasure.customerio;

import dev.cioerasure.config.Secret;
import java.net.URI;
import java.time.Duration;

/**
 * Where and as whom to call the App API (a Bearer key, not the Track credentials). The key is
 * read on every call, so a rotated key file takes effect on the next request.
 */
public record AppEndpoint(URI baseUrl, Secret apiKey, Duration connectTimeout, Duration requestTimeout) {

    /**
     * A made-up key at this base URL: the App API refuses it (401), and whatever answers a look-up
     * made with it is not the App API, so its 404s prove nothing.
     */
    public static AppEndpoint madeUp(URI baseUrl, Duration connectTimeout, Duration requestTimeout) {
        return new AppEndpoint(baseUrl, Secret.of("a made-up App API key", "cio-erasure-not-a-key-" + java.util.UUID.randomUUID()),
                connectTimeout, requestTimeout);
    }

    @Override
    public String toString() {
        return "AppEndpoint[" + baseUrl + ", key [hidden]]";
    }
}
