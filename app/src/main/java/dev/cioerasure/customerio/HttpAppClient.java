package dev.cioerasure.customerio;

import dev.cioerasure.request.Identifier;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.util.Optional;

/**
 * App API over the JDK HTTP client: Bearer auth, the identifier percent-encoded as one path
 * segment with its type in {@code id_type} (a cio_id without the {@code cio_} prefix), the
 * response body discarded unread (it holds the person's attributes). A 404 counts as "gone" only
 * with a JSON content type: a wrong base URL or a proxy's error page must not verify anyone.
 */
final class HttpAppClient implements AppClient {
    /** A body is counted, never kept; past this many bytes the exchange is cancelled (its status stands). */
    private static final int MAX_BODY_COUNTED = 1024 * 1024;
    private final AppEndpoint endpoint;
    private final Clock clock;
    private final HttpClient http;
    private final String base;

    HttpAppClient(AppEndpoint endpoint, Clock clock) {
        this.endpoint = endpoint;
        this.clock = clock;
        this.base = endpoint.baseUrl().toString().replaceAll("/+$", "") + "/v1";
        this.http = HttpClient.newBuilder()
                .version(HttpTrackClient.ONE_CONNECTION_PER_CALL) // as the Track client, and for the same reason
                .connectTimeout(endpoint.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    @Override
    public PresenceResult lookup(Identifier identifier) {
        String idType = switch (identifier.type()) {
            case ID -> "id";
            case EMAIL -> "email";
            case CIO_ID -> "cio_id";
        };
        URI uri = URI.create(base + "/customers/" + IdentifierPath.encode(identifier.value()) + "/attributes?id_type=" + idType);
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(endpoint.requestTimeout())
                .header("Authorization", "Bearer " + endpoint.apiKey().reveal())
                .header("Accept", "application/json")
                .header("User-Agent", "cio-erasure/0.1")
                .GET()
                .build();
        try {
            HttpResponse<byte[]> resp = BoundedExchange.send(http, request, MAX_BODY_COUNTED, false);
            int status = resp.statusCode();
            if (status == 404 && !resp.headers().firstValue("Content-Type").orElse("").toLowerCase(java.util.Locale.ROOT)
                    .startsWith("application/json")) {
                // A 404 that is not the App API's JSON answer (a wrong base URL, a proxy) proves nothing.
                return new PresenceResult(status, PresenceResult.Kind.PERMANENT, Optional.empty(), "http 404 without a JSON body");
            }
            return new PresenceResult(status, PresenceResult.classify(status),
                    RetryAfter.parse(resp.headers().firstValue("Retry-After").orElse(null), clock), "http " + status);
        } catch (IOException | InterruptedException e) {
            return failure(HttpTrackClient.failureDetail(e));
        }
    }

    private static PresenceResult failure(String detail) {
        return new PresenceResult(0, PresenceResult.Kind.RETRYABLE, Optional.empty(), detail);
    }

}
