package dev.cioerasure.request;

import java.time.Instant;

/**
 * A validated deletion request (the contract in {@code schema/erasure-request.schema.json}).
 * {@code toString()} names it by request id only.
 */
public record ErasureRequest(String requestId, Identifier identifier, Regulation regulation,
                             Instant requestedAt, String requestedBy) {

    public Instant deadline() {
        return regulation.deadline(requestedAt);
    }

    @Override
    public String toString() {
        return "ErasureRequest[" + requestId + ", " + identifier.type().wireName() + ", " + regulation + "]";
    }
}
