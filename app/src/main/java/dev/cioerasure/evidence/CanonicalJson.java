package dev.cioerasure.evidence;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The one byte form of a receipt that is signed: keys sorted, no whitespace, UTF-8, exactly what
 * {@code jq -cjS} prints. Only strings of printable ASCII, integers, booleans and null are
 * allowed (a receipt needs no more), so no escaping rule can differ between Jackson and jq.
 */
final class CanonicalJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CanonicalJson() { }

    static byte[] bytes(JsonNode node) {
        try {
            return JSON.writeValueAsString(sorted(node)).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode sorted(JsonNode node) {
        if (node.isObject()) {
            List<String> names = new ArrayList<>();
            node.fieldNames().forEachRemaining(names::add);
            Collections.sort(names);
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            for (String n : names) {
                check(n);
                out.set(n, sorted(node.get(n)));
            }
            return out;
        }
        if (node.isArray()) {
            ArrayNode out = JsonNodeFactory.instance.arrayNode();
            node.forEach(e -> out.add(sorted(e)));
            return out;
        }
        if (node.isTextual()) {
            check(node.textValue());
            return node;
        }
        if (node.isIntegralNumber() || node.isBoolean() || node.isNull()) {
            return node;
        }
        throw new IllegalArgumentException("a receipt holds strings, integers, booleans and null only, not " + node.getNodeType());
    }

    private static void check(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                throw new IllegalArgumentException("a receipt string holds printable ASCII only");
            }
        }
    }
}
