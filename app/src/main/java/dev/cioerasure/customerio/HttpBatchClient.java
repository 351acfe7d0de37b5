package dev.cioerasure.customerio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cioerasure.request.Identifier;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * {@code POST /api/v2/batch} over the JDK HTTP client. An item is
 * {@code {"type":"person","identifiers":{"id"|"email"|"cio_id":…},"action":"suppress"|"delete"}}
 * (v2 names a cio_id without its {@code cio_} prefix). A 207's errors are mapped to their items by
 * {@code batch_index}; an error without a valid one makes the answer malformed, and the batch is
 * then retried as a whole (its items are idempotent).
 */
final class HttpBatchClient implements BatchClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY_READ = 1024 * 1024;
    /** What of the server's reason and field names a row may keep: names, never values. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.\\[\\]-]{1,64}");

    private final Clock clock;
    private final URI uri;
    /** The v1 client of the same workspace: its HTTP client, credentials and headers, and the region check. */
    private final HttpTrackClient v1;

    HttpBatchClient(TrackEndpoint endpoint, Clock clock) {
        this(endpoint, clock, CallHold.NONE);
    }

    HttpBatchClient(TrackEndpoint endpoint, Clock clock, CallHold hold) {
        this.clock = clock;
        this.uri = URI.create(endpoint.baseUrl().toString().replaceAll("/+$", "") + "/api/v2/batch");
        this.v1 = new HttpTrackClient(endpoint, clock, hold);
    }

    /** The request body of these items: {@code {"batch":[item,item,…]}}, each item's JSON as it was encoded. */
    static byte[] body(List<Item> items) {
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream(
                ENVELOPE_BYTES + items.stream().mapToInt(BatchClient::encodedSize).sum());
        body.writeBytes("{\"batch\":[".getBytes(StandardCharsets.UTF_8));
        for (int k = 0; k < items.size(); k++) {
            if (k > 0) {
                body.write(',');
            }
            body.writeBytes(items.get(k).json());
        }
        body.writeBytes("]}".getBytes(StandardCharsets.UTF_8));
        return body.toByteArray();
    }

    /** One item's JSON in a body, UTF-8 (made once per item: {@link Item}). */
    static byte[] itemJson(TrackOperation operation, Identifier identifier) {
        ObjectNode item = JSON.createObjectNode();
        item.put("type", "person");
        item.putObject("identifiers").put(identifier.type().wireName(), identifier.value());
        item.put("action", operation == TrackOperation.SUPPRESS ? "suppress" : "delete");
        return item.toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public Response send(List<Item> items) {
        Optional<TrackResult> held = v1.heldBack(TrackOperation.SUPPRESS); // the operation is the batch's items', not asked
        if (held.isPresent()) {
            return new Response(0, held.get().kind(), Optional.empty(), Map.of(), held.get().detail(), Duration.ZERO);
        }
        long start = System.nanoTime();
        HttpRequest request = v1.request(uri).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body(items))).build();
        try {
            HttpResponse<byte[]> resp = v1.exchange(request, MAX_BODY_READ);
            Duration latency = Duration.ofNanos(System.nanoTime() - start);
            int status = resp.statusCode();
            Optional<Duration> retryAfter = RetryAfter.parse(resp.headers().firstValue("Retry-After").orElse(null), clock);
            if (status == 207) {
                Map<Integer, String> refused = refused(resp.body(), items);
                if (refused == null) {
                    return new Response(status, TrackResult.Kind.RETRYABLE, retryAfter, Map.of(), "malformed 207", latency);
                }
                return new Response(status, TrackResult.Kind.SUCCESS, retryAfter, refused, "http 207", latency);
            }
            return new Response(status, TrackResult.classify(status), retryAfter, Map.of(), "http " + status, latency);
        } catch (IOException | InterruptedException e) {
            return new Response(0, TrackResult.Kind.RETRYABLE, Optional.empty(), Map.of(), HttpTrackClient.failureDetail(e),
                    Duration.ofNanos(System.nanoTime() - start));
        }
    }

    /**
     * The refused items of a 207 by index, or null when the body is not the documented
     * {@code {"errors":[{"batch_index":N,"reason":…,"field":…}]}} with every index in range.
     */
    static Map<Integer, String> refused(byte[] body, List<Item> items) {
        if (body == null || body.length > MAX_BODY_READ) {
            return null;
        }
        JsonNode errors;
        try {
            errors = JSON.readTree(body).get("errors");
        } catch (IOException e) {
            return null;
        }
        if (errors == null || !errors.isArray() || errors.isEmpty()) {
            return null;
        }
        Map<Integer, String> out = new HashMap<>();
        for (JsonNode e : errors) {
            JsonNode index = e.get("batch_index");
            // canConvertToInt: 2^32 read as an int is 0, an item the server did not name
            if (index == null || !index.isIntegralNumber() || !index.canConvertToInt() || index.asInt() < 0
                    || index.asInt() >= items.size()) {
                return null;
            }
            out.put(index.asInt(), "batch item refused: " + name(e.get("reason"), "invalid", items) + " "
                    + name(e.get("field"), "item", items));
        }
        return out;
    }

    /**
     * The server's word if it is a name; {@code otherwise} if it is anything else, or holds an
     * identifier of the batch: an id or a cio_id is written in the same characters as a name.
     */
    private static String name(JsonNode n, String otherwise, List<Item> items) {
        if (n == null || !n.isTextual() || !NAME.matcher(n.asText()).matches()) {
            return otherwise;
        }
        String word = n.asText().toLowerCase(Locale.ROOT);
        for (Item i : items) {
            if (word.contains(i.identifier().value().toLowerCase(Locale.ROOT))) {
                return otherwise;
            }
        }
        return n.asText();
    }

    @Override
    public RegionCheck region() {
        return v1.region();
    }

    @Override
    public void reloadCredentials() {
        v1.reloadCredentials();
    }
}
