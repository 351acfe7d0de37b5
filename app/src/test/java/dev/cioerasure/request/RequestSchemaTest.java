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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

    /** The email pattern says what the parser takes: a platform that checks with the schema refuses no request the worker takes. */
    @ParameterizedTest
    @ValueSource(strings = {"jane@example.com", "x@localhost", "x@a.", "x@.a", "x@.", "a@b@c.de", "@b.co", "x@", "x@localhost2",
            "x@localhost.", "x@ex ample.com", "x y@b.co", "x@b\u00a0.co", "x@b\u2028.co", "x@b.co\n"})
    void theEmailPatternTakesWhatTheParserTakes(String address) {
        java.util.regex.Pattern pattern = ecma262(when("email").get("pattern").asText());
        RequestParser parser = new RequestParser(Clock.fixed(Instant.parse("2026-11-28T10:30:00Z"), ZoneOffset.UTC));
        boolean taken = parser.parse(dev.cioerasure.testing.Messages.request("r-1", "email", address)) instanceof ParseResult.Valid;
        assertThat(pattern.matcher(address).find()).as(address).isEqualTo(taken);
    }

    /** What the schema's id rule refuses (all but its length in bytes, which a pattern cannot count) is what the parser refuses. */
    @ParameterizedTest
    @ValueSource(strings = {"p-1", "fan-7", " p", "p ", "p\u00a0", "\u3000p", "p q", "..", ".p", "cio_1", "CIO_1", "a@b", "@"})
    void theIdRuleRefusesWhatTheParserRefuses(String id) {
        boolean refused = false;
        for (JsonNode rule : when("id").get("not").get("anyOf")) {
            refused |= ecma262(rule.get("pattern").asText()).matcher(id).find();
        }
        RequestParser parser = new RequestParser(Clock.fixed(Instant.parse("2026-11-28T10:30:00Z"), ZoneOffset.UTC));
        boolean taken = parser.parse(dev.cioerasure.testing.Messages.request("r-1", "id", id)) instanceof ParseResult.Valid;
        assertThat(refused).as(id).isEqualTo(!taken);
    }

    /** requested_by's pattern and its "not only spaces" rule say what the parser refuses (invisible characters aside, which the description names). */
    @ParameterizedTest
    @ValueSource(strings = {"privacy-desk/ticket-4711", " desk ", " ", "\u00a0", "\u3000 ", "desk@b.co", "@"})
    void theRequestedByRuleRefusesWhatTheParserRefuses(String requestedBy) {
        JsonNode rule = FIELDS.get("requested_by");
        boolean refused = !ecma262(rule.get("pattern").asText()).matcher(requestedBy).find()
                || ecma262(rule.get("not").get("pattern").asText()).matcher(requestedBy).find();
        byte[] message = new String(dev.cioerasure.testing.Messages.request("r-1", "id", "p-1"), StandardCharsets.UTF_8)
                .replace("privacy-desk/ticket-4711", requestedBy).getBytes(StandardCharsets.UTF_8);
        RequestParser parser = new RequestParser(Clock.fixed(Instant.parse("2026-11-28T10:30:00Z"), ZoneOffset.UTC));
        assertThat(refused).as(requestedBy).isEqualTo(!(parser.parse(message) instanceof ParseResult.Valid));
    }

    /**
     * A schema pattern (ECMA 262) as Java reads it the same way, for the patterns this schema uses:
     * ECMA's {@code \s} is Unicode's white space, and its {@code $} matches at the very end only
     * (Java's, without flags, also before a final line break).
     */
    private static java.util.regex.Pattern ecma262(String pattern) {
        assertThat(pattern).doesNotContain("\\$");
        return java.util.regex.Pattern.compile(pattern.replace("$", "\\z"), java.util.regex.Pattern.UNICODE_CHARACTER_CLASS);
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
