package dev.cioerasure.customerio;

import dev.cioerasure.config.Secret;
import java.net.URI;
import java.time.Duration;

/**
 * Where and as whom to call the App API (a Bearer key, not the Track credentials). The key is
 * read on every call, so a rotated key file takes effect on the next request.
 */
public record AppEndpoint(URI baseUrl, Secret apiKey, Duration connectTimeout, Duration requestTimeout) {

    @Override
    public String toString() {
        return "AppEndpoint[" + baseUrl + ", key [hidden]]";
    }
}
