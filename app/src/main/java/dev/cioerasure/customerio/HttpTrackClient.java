package dev.cioerasure.customerio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cioerasure.request.Identifier;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Optional;

/** Track API over the JDK HTTP client: Basic auth, percent-encoded identifiers, timeouts, classification. */
final class HttpTrackClient implements TrackClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY_READ = 4096;

    /**
     * HTTP/1.1, also over TLS, where the client would negotiate HTTP/2: there every call is a
     * stream on one connection, the server caps the streams open at once (100 or 128 is common),
     * and the JDK's client fails each call past the cap at once ("too many concurrent streams",
     * JDK-8225647, open) instead of waiting, so erasures in flight beyond it failed as I/O errors
     * Customer.io never saw ({@code TrackOverTlsIT}). HTTP/1.1 opens a connection per call in
     * flight and keeps them alive; it is also what the benchmarks measure.
     */
    static final HttpClient.Version ONE_CONNECTION_PER_CALL = HttpClient.Version.HTTP_1_1;

    private final TrackEndpoint endpoint;
    private final Clock clock;
    private final HttpClient http;
    private final String base;
    /** Why a call must not be sent now ({@link SiteIdGuard}, {@link TrackUrlWatch}). */
    private final CallHold hold;

    HttpTrackClient(TrackEndpoint endpoint, Clock clock) {
        this(endpoint, clock, CallHold.NONE);
    }

    HttpTrackClient(TrackEndpoint endpoint, Clock clock, CallHold hold) {
        this.endpoint = endpoint;
        this.clock = clock;
        this.hold = hold;
        this.base = endpoint.baseUrl().toString().replaceAll("/+$", "") + "/api/v1";
        this.http = HttpClient.newBuilder()
                // Completions run on the client's selector thread instead of hopping to another pool:
                // callers block in send(), so nothing slow runs there, and each call saves thread handoffs.
                .executor(Runnable::run)
                .connectTimeout(endpoint.connectTimeout())
                .version(ONE_CONNECTION_PER_CALL)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    @Override
    public TrackResult suppress(Identifier identifier) {
        URI uri = URI.create(base + "/customers/" + IdentifierPath.segment(identifier) + "/suppress");
        return send(TrackOperation.SUPPRESS, request(uri).POST(HttpRequest.BodyPublishers.ofString("{}"))
                .header("Content-Type", "application/json")).result;
    }

    @Override
    public TrackResult destroy(Identifier identifier) {
        URI uri = URI.create(base + "/customers/" + IdentifierPath.segment(identifier));
        return send(TrackOperation.DESTROY, request(uri).DELETE()).result;
    }

    @Override
    public RegionCheck region() {
        Sent sent = send(TrackOperation.REGION, request(URI.create(base + "/accounts/region")).GET());
        if (!sent.result.isSuccess() || sent.body == null) {
            return new RegionCheck(sent.result, Optional.empty(), Optional.empty());
        }
        try {
            JsonNode n = JSON.readTree(sent.body);
            // only a region's name is taken: anything else (control characters for the operator's
            // terminal, a sentence to paste into a setting) is no region
            return new RegionCheck(sent.result, Optional.ofNullable(n.path("region").textValue()).filter(r -> r.matches("[A-Za-z]{2,8}")),
                    Optional.ofNullable(n.path("url").textValue()).filter(u -> u.matches("https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/?")));
        } catch (IOException e) {
            return new RegionCheck(sent.result, Optional.empty(), Optional.empty());
        }
    }

    /** The result of a call held back, not sent ({@link CallHold}), or empty to send it. */
    Optional<TrackResult> heldBack(TrackOperation op) {
        return hold.heldBack(op);
    }

    @Override
    public void reloadCredentials() {
        endpoint.apiKey().forceRefresh();
    }

    /** A request to the Track API as this workspace: Basic auth, timeout, the usual headers (also for {@link HttpBatchClient}). */
    HttpRequest.Builder request(URI uri) {
        String credentials = endpoint.basicCredentials();
        return HttpRequest.newBuilder(uri)
                .timeout(endpoint.requestTimeout())
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(credentials.getBytes(StandardCharsets.UTF_8)))
                .header("Accept", "application/json")
                .header("User-Agent", "cio-erasure/0.1");
    }

    /**
     * Sends on this client's one HTTP client (connections shared with {@link HttpBatchClient}),
     * within the request's timeout, body included; a body longer than {@code maxBody} is null.
     */
    HttpResponse<byte[]> exchange(HttpRequest request, int maxBody) throws IOException, InterruptedException {
        return BoundedExchange.send(http, request, maxBody, true);
    }

    private record Sent(TrackResult result, byte[] body) { }

    private Sent send(TrackOperation op, HttpRequest.Builder builder) {
        Optional<TrackResult> held = heldBack(op);
        if (held.isPresent()) {
            return new Sent(held.get(), null);
        }
        long start = System.nanoTime();
        try {
            HttpResponse<byte[]> resp = exchange(builder.build(), MAX_BODY_READ);
            Duration latency = Duration.ofNanos(System.nanoTime() - start);
            int status = resp.statusCode();
            Optional<Duration> retryAfter = RetryAfter.parse(resp.headers().firstValue("Retry-After").orElse(null), clock);
            return new Sent(new TrackResult(op, status, TrackResult.classify(status), retryAfter, "http " + status, latency), resp.body());
        } catch (IOException | InterruptedException e) {
            return new Sent(failure(op, failureDetail(e), start), null);
        }
    }

    /**
     * What went wrong with a call that got no response, as a metric-safe detail; an interrupt is
     * passed on to the calling thread.
     */
    static String failureDetail(Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
        if (e instanceof HttpConnectTimeoutException) {
            return "connect_timeout";
        }
        if (e instanceof HttpTimeoutException) {
            return "timeout";
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof javax.net.ssl.SSLException) {
                // a certificate this JVM does not trust (a proxy that intercepts TLS), or no protocol
                // or cipher in common: not the network, and it does not pass by itself
                return TrackResult.TLS_FAILED;
            }
        }
        return e instanceof ConnectException ? "connect_refused" : "io_error";
    }

    private static TrackResult failure(TrackOperation op, String detail, long start) {
        return new TrackResult(op, 0, TrackResult.Kind.RETRYABLE, Optional.empty(), detail,
                Duration.ofNanos(System.nanoTime() - start));
    }
}
