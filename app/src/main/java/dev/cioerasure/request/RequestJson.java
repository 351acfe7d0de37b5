package dev.cioerasure.request;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;

/** Writes a request in the message format that {@link RequestParser} reads. */
public final class RequestJson {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private RequestJson() { }

    public static byte[] toBytes(ErasureRequest r) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("request_id", r.requestId());
        ObjectNode id = root.putObject("identifier");
        id.put("type", r.identifier().type().wireName());
        id.put("value", r.identifier().value());
        root.put("regulation", r.regulation().name());
        // with the offset it was written with, which the deadline counts on too
        root.put("requested_at", r.requestedAtOffset().equals(java.time.ZoneOffset.UTC) ? r.requestedAt().toString()
                : java.time.format.DateTimeFormatter.ISO_OFFSET_DATE_TIME.format(r.requestedAt().atOffset(r.requestedAtOffset())));
        root.put("requested_by", r.requestedBy());
        if (!r.workspaces().isEmpty()) {
            r.workspaces().forEach(root.putArray("workspaces")::add);
        }
        return root.toString().getBytes(StandardCharsets.UTF_8);
    }
}
