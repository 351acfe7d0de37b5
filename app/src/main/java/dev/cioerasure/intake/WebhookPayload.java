package dev.cioerasure.intake;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.IdentifierType;
import dev.cioerasure.request.Regulation;
import dev.cioerasure.request.RequestParser;
import java.io.IOException;
import java.time.Instant;
import java.util.Iterator;
import java.util.Set;
import java.util.function.Function;

/**
 * The body of a Customer.io webhook action (configured in a campaign with Liquid), e.g.
 * {@code {"cio_id": "{{customer.cio_id}}", "regulation": "GDPR"}}. Fields: one or more of
 * {@code cio_id}, {@code id}, {@code email} (the first present, in that order, is used: cio_id
 * is unambiguous), optional {@code regulation} (default GDPR) and {@code request_id}. Without a
 * request id, one is derived from the regulation, the UTC day of its signed timestamp and the
 * keyed subject hash: a replay of the same signed request (same timestamp) and Customer.io's
 * retries of the same webhook that day are recorded as {@code DUPLICATE},
 * while a new erasure of the same person on a later day (someone who signed up again after the
 * first one) gets a new id and is erased again instead of being taken for a repeat.
 */
final class WebhookPayload {
    private static final ObjectMapper JSON = RequestParser.strictJson();
    private static final Set<String> FIELDS = Set.of("cio_id", "id", "email", "regulation", "request_id");

    private WebhookPayload() { }

    /** A request message in the topic's format; throws {@link IllegalArgumentException} with a reason without values. */
    static ErasureRequest toRequest(byte[] body, Instant receivedAt, Instant signedAt, Function<Identifier, String> subjectHash) {
        if (RequestParser.holdsNul(body)) {
            // UTF-16 or UTF-32, which Jackson would read: the contract is UTF-8
            throw new IllegalArgumentException("body holds NUL bytes: UTF-16 or UTF-32 text, not UTF-8 JSON");
        }
        JsonNode n;
        try {
            n = JSON.readTree(body);
        } catch (IOException e) {
            // Jackson's messages quote the input: not shown
            throw new IllegalArgumentException("body is not valid JSON (or names a field twice, or has more after the object)");
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("body must be a JSON object");
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            if (!FIELDS.contains(it.next())) {
                throw new IllegalArgumentException("unknown field (allowed: cio_id, id, email, regulation, request_id)");
            }
        }
        Identifier identifier = null;
        for (IdentifierType t : new IdentifierType[] {IdentifierType.CIO_ID, IdentifierType.ID, IdentifierType.EMAIL}) {
            JsonNode v = n.get(t.wireName());
            if (v != null && v.isTextual() && !v.textValue().isBlank()) {
                identifier = new Identifier(t, v.textValue());
                break;
            }
        }
        if (identifier == null) {
            throw new IllegalArgumentException("one of cio_id, id or email is required (a non-empty string)");
        }
        Regulation regulation = Regulation.GDPR;
        JsonNode reg = n.get("regulation");
        if (reg != null && !reg.isNull()) {
            if (!reg.isTextual() || !(reg.textValue().equals("GDPR") || reg.textValue().equals("CCPA"))) {
                throw new IllegalArgumentException("regulation must be GDPR or CCPA");
            }
            regulation = Regulation.valueOf(reg.textValue());
        }
        JsonNode rid = n.get("request_id");
        String requestId;
        if (rid != null && !rid.isNull()) {
            if (!rid.isTextual()) {
                throw new IllegalArgumentException("request_id must be a string");
            }
            requestId = rid.textValue();
        } else {
            // keyed, so the id (which is logged and audited) reveals nothing about the person
            requestId = "cio-webhook-" + regulation.name().toLowerCase(java.util.Locale.ROOT) + "-"
                    + signedAt.atOffset(java.time.ZoneOffset.UTC).toLocalDate() + "-" + subjectHash.apply(identifier).substring(0, 32);
        }
        return new ErasureRequest(requestId, identifier, regulation, receivedAt, RequestParser.WEBHOOK_REQUESTED_BY);
    }
}
