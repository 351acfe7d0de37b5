package dev.cioerasure.customerio;

import dev.cioerasure.request.Identifier;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Track v2's {@code POST /api/v2/batch}: many suppress or delete operations in one request.
 * Like {@link TrackClient}, it never throws: every outcome comes back classified.
 */
public interface BatchClient {

    /**
     * One operation of a batch: suppress or destroy one person. Its JSON in a body is encoded once,
     * when it is made: the batcher needs its size to cut batches below the size limit, and the
     * body is then those same bytes (it was encoded twice, once for each).
     */
    final class Item {
        private final TrackOperation operation;
        private final Identifier identifier;
        private final byte[] json;

        public Item(TrackOperation operation, Identifier identifier) {
            this.operation = operation;
            this.identifier = identifier;
            this.json = HttpBatchClient.itemJson(operation, identifier);
        }

        public TrackOperation operation() {
            return operation;
        }

        public Identifier identifier() {
            return identifier;
        }

        /** Its JSON in a batch body, UTF-8. */
        byte[] json() {
            return json;
        }
    }

    /**
     * The answer to one batch request.
     *
     * @param status     HTTP status, or 0 when no response arrived
     * @param kind       for the whole batch: SUCCESS (200, or 207 with some items refused), RETRYABLE,
     *                   UNAUTHORIZED or PERMANENT (400: the batch refused whole)
     * @param refused    for a 207: the refused items by 0-based index, each with a reason made only
     *                   of the server's reason and field names (never its message: it may quote a value)
     * @param detail     a short metric-safe description, e.g. {@code http 207} or {@code timeout}
     */
    record Response(int status, TrackResult.Kind kind, Optional<Duration> retryAfter, Map<Integer, String> refused, String detail,
                    Duration latency) {
        public Response {
            refused = Map.copyOf(refused);
        }
    }

    /**
     * The largest body a batch request may have: Customer.io documents the whole request "under
     * 500 KB", read here at its strictest (fewer than 500,000 bytes).
     */
    int MAX_REQUEST_BYTES = 499_999;

    /** The bytes of a batch body besides its items: {@code {"batch":[]}}. */
    int ENVELOPE_BYTES = 12;

    /** The bytes an item adds to a batch body: its JSON, and a comma. */
    static int encodedSize(Item item) {
        return item.json().length + 1;
    }

    Response send(List<Item> items);

    /** The credential/region check (v1's, no side effects). */
    RegionCheck region();

    /** Re-reads the credentials from their source before the next call. */
    void reloadCredentials();

    /** The real client over HTTP. */
    static BatchClient http(TrackEndpoint endpoint, Clock clock) {
        return new HttpBatchClient(endpoint, clock);
    }

    /**
     * The real client, whose batches are not sent while {@code guard} finds its workspace calling
     * another one's site id, or while {@code watch} has not seen its Track URL refuse a made-up key.
     */
    static BatchClient http(TrackEndpoint endpoint, Clock clock, SiteIdGuard guard, String workspace, TrackUrlWatch watch) {
        return new HttpBatchClient(endpoint, clock, CallHold.of(guard, workspace, watch));
    }
}
