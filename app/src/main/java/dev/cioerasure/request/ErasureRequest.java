package dev.cioerasure.request;

import java.time.Instant;
import java.time.ZoneOffset;

/**
 * A validated deletion request (the contract in {@code schema/erasure-request.schema.json}).
 * {@code toString()} names it by request id only.
 */
public record ErasureRequest(String requestId, Identifier identifier, Regulation regulation,
                             Instant requestedAt, String requestedBy, java.util.List<String> workspaces,
                             ZoneOffset requestedAtOffset) {

    /**
     * @param workspaces        the workspaces to erase from, by name, or empty: every configured workspace
     * @param requestedAtOffset the offset {@code requested_at} was written with (its calendar
     *                          counts towards the deadline too: {@link Regulation#deadline(Instant, ZoneOffset)})
     */
    public ErasureRequest {
        workspaces = workspaces == null ? java.util.List.of() : java.util.List.copyOf(workspaces);
        requestedAtOffset = requestedAtOffset == null ? ZoneOffset.UTC : requestedAtOffset;
    }

    /** A request whose {@code requested_at} was written in UTC. */
    public ErasureRequest(String requestId, Identifier identifier, Regulation regulation, Instant requestedAt, String requestedBy,
                          java.util.List<String> workspaces) {
        this(requestId, identifier, regulation, requestedAt, requestedBy, workspaces, ZoneOffset.UTC);
    }

    /** A request for every configured workspace, its {@code requested_at} written in UTC. */
    public ErasureRequest(String requestId, Identifier identifier, Regulation regulation, Instant requestedAt, String requestedBy) {
        this(requestId, identifier, regulation, requestedAt, requestedBy, java.util.List.of());
    }

    public Instant deadline() {
        return regulation.deadline(requestedAt, requestedAtOffset);
    }

    @Override
    public String toString() {
        return "ErasureRequest[" + requestId + ", " + identifier.type().wireName() + ", " + regulation + "]";
    }
}
