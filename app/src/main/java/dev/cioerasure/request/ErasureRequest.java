package dev.cioerasure.request;

import java.time.Instant;

/**
 * A validated deletion request (the contract in {@code schema/erasure-request.schema.json}).
 * {@code toString()} names it by request id only.
 */
public record ErasureRequest(String requestId, Identifier identifier, Regulation regulation,
                             Instant requestedAt, String requestedBy, java.util.List<String> workspaces) {

    /**
     * @param workspaces the workspaces to erase from, by name, or empty: every configured workspace
     */
    public ErasureRequest {
        workspaces = workspaces == null ? java.util.List.of() : java.util.List.copyOf(workspaces);
    }

    /** A request for every configured workspace. */
    public ErasureRequest(String requestId, Identifier identifier, Regulation regulation, Instant requestedAt, String requestedBy) {
        this(requestId, identifier, regulation, requestedAt, requestedBy, java.util.List.of());
    }

    public Instant deadline() {
        return regulation.deadline(requestedAt);
    }

    @Override
    public String toString() {
        return "ErasureRequest[" + requestId + ", " + identifier.type().wireName() + ", " + regulation + "]";
    }
}
