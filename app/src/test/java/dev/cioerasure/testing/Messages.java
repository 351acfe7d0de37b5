package dev.cioerasure.testing;

import java.nio.charset.StandardCharsets;

/** Request messages for tests, written as independent JSON text (not through the product's own writer). */
public final class Messages {
    private Messages() { }

    public static byte[] request(String requestId, String type, String value) {
        return request(requestId, type, value, "GDPR", "2026-11-28T10:00:00Z");
    }

    public static byte[] request(String requestId, String type, String value, String regulation, String requestedAt) {
        String json = "{\"request_id\":" + quote(requestId) + ",\"identifier\":{\"type\":" + quote(type) + ",\"value\":" + quote(value)
                + "},\"regulation\":" + quote(regulation) + ",\"requested_at\":" + quote(requestedAt)
                + ",\"requested_by\":\"privacy-desk/ticket-4711\"}";
        return json.getBytes(StandardCharsets.UTF_8);
    }

    /** The same request naming the workspaces to erase from. */
    public static byte[] inWorkspaces(String requestId, String type, String value, String... workspaces) {
        String json = new String(request(requestId, type, value), StandardCharsets.UTF_8);
        StringBuilder list = new StringBuilder();
        for (String w : workspaces) {
            list.append(list.length() == 0 ? "" : ",").append(quote(w));
        }
        return (json.substring(0, json.length() - 1) + ",\"workspaces\":[" + list + "]}").getBytes(StandardCharsets.UTF_8);
    }

    public static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
