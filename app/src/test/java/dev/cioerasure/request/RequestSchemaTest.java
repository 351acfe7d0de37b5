package dev.cioerasure.request;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The published schema (schema/erasure-request.schema.json, README "The request message") says
 * what the worker takes: its fields, bounds and patterns are the parser's, and its example passes.
 * A producer that validates against it must not learn the rules again from the DLQ.
 */
class RequestSchemaTest {
    private static final JsonNode SCHEMA = read();
    private static final JsonNode FIELDS = SCHEMA.get("properties");

    private static JsonNode read() {
        try {
            return new ObjectMapper().readTree(Path.of("schema", "erasure-request.schema.json").toFile());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Set<String> names(JsonNode node) {
        Set<String> out = new TreeSet<>();
        node.fieldNames().forEachRemaining(out::add);
        return out;
    }

    private static JsonNode when(String type) {
        for (JsonNode rule : FIELDS.get("identifier").get("allOf")) {
            if (rule.get("if").get("properties").get("type").get("const").asText().equals(type)) {
                return rule.get("then").get("properties").get("value");
            }
        }
        throw new AssertionError("no rule for " + type);
    }

    @Test
    void theSchemaNamesTheFieldsAndBoundsTheParserApplies() {
        assertThat(SCHEMA.get("additionalProperties").asBoolean(true)).isFalse();
        assertThat(names(FIELDS)).isEqualTo(new TreeSet<>(Set.of("request_id", "identifier", "regulation", "requested_at",
                "requested_by", "workspaces")));
        assertThat(FIELDS.get("request_id").get("maxLength").asInt()).isEqualTo(RequestParser.MAX_REQUEST_ID);
        assertThat(FIELDS.get("requested_by").get("maxLength").asInt()).isEqualTo(RequestParser.MAX_REQUESTED_BY);
        assertThat(when("email").get("maxLength").asInt()).isEqualTo(RequestParser.MAX_EMAIL);
        assertThat(when("id").get("maxLength").asInt()).isEqualTo(RequestParser.MAX_ID_BYTES);
        assertThat(when("cio_id").get("pattern").asText()).isEqualTo("^[A-Za-z0-9]{1," + RequestParser.MAX_CIO_ID + "}$");
        assertThat(FIELDS.get("workspaces").get("maxItems").asInt()).isEqualTo(RequestParser.MAX_WORKSPACES);
        assertThat(FIELDS.get("workspaces").get("items").get("pattern").asText())
                .isEqualTo("^" + dev.cioerasure.config.Settings.Workspace.NAME.pattern() + "$");
        assertThat(FIELDS.get("regulation").get("enum")).extracting(JsonNode::asText)
                .containsExactlyInAnyOrder(java.util.Arrays.stream(Regulation.values()).map(Enum::name).toArray(String[]::new));
        assertThat(FIELDS.get("identifier").get("properties").get("type").get("enum")).extracting(JsonNode::asText)
                .containsExactlyInAnyOrder("id", "email", "cio_id");
        assertThat(SCHEMA.get("description").asText()).contains("at most " + RequestParser.MAX_MESSAGE_BYTES / 1024 + " KiB");
    }

    @Test
    void theSchemasExamplesAreTakenAsTheyAre() throws Exception {
        RequestParser parser = new RequestParser(Clock.fixed(Instant.parse("2026-11-28T10:30:00Z"), ZoneOffset.UTC), Set.of("brand-us", "brand-eu"));
        assertThat(SCHEMA.get("examples")).isNotEmpty();
        for (JsonNode example : SCHEMA.get("examples")) {
            assertThat(parser.parse(example.toString().getBytes(StandardCharsets.UTF_8))).as(example.toString())
                    .isInstanceOf(ParseResult.Valid.class);
        }
    }
}
