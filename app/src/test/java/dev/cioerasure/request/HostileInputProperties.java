package dev.cioerasure.request;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Messages;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/** Random and adversarial input: every case is a clear rejection or a valid request, never a crash or a leak. */
class HostileInputProperties {
    private final RequestParser parser = new RequestParser(Clock.fixed(Instant.parse("2026-11-29T00:00:00Z"), ZoneOffset.UTC));

    @Property(tries = 2000)
    void arbitraryBytesNeverCrashTheParser(@ForAll @Size(max = 20_000) byte[] bytes) {
        ParseResult r = parser.parse(bytes);
        assertThat(r).isNotNull();
        if (r instanceof ParseResult.Invalid invalid) {
            assertThat(invalid.rejection().detail()).isNotBlank();
        }
    }

    @Provide
    Arbitrary<String> nasty() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMaxLength(300),
                Arbitraries.strings().withChars("./%\\\r\n\t\u0000\u202e\u2028@+?#&= cio_").ofMaxLength(40),
                Arbitraries.of("..", ".", "../../admin", "%2e%2e", "%2F", "a/../b", "cio_123", "x@y.z", "\r\nX-Injected: 1",
                        "\uD800", "\uDFFF", "😀", "ǅ", "\u200B", " ", "a".repeat(5000)),
                Arbitraries.strings().ascii().ofMaxLength(200));
    }

    @Provide
    Arbitrary<String> type() {
        return Arbitraries.of("id", "email", "cio_id", "ID", "phone", "", "cio_id ");
    }

    @Property(tries = 3000)
    void anyIdentifierIsEitherRejectedOrSafeToSend(@ForAll("type") String type, @ForAll("nasty") String value) {
        ParseResult r = parser.parse(Messages.request("r-1", type, value));
        if (r instanceof ParseResult.Valid v) {
            Identifier id = v.request().identifier();
            // what was sent: a lone surrogate cannot be encoded in UTF-8 and arrives as '?'
            String sent = new String(value.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8);
            assertThat(id.value()).isEqualTo(sent);
            assertThat(dev.cioerasure.text.VisibleText.hasControlOrInvisible(sent)).isFalse();
            if (id.type() == IdentifierType.ID) {
                assertThat(sent).doesNotContain("@").doesNotStartWith("cio_");
            }
        } else {
            ParseResult.Invalid invalid = (ParseResult.Invalid) r;
            assertThat(invalid.rejection().code()).isNotNull();
        }
    }

    @Provide
    Arbitrary<String> marker() {
        return Arbitraries.strings().withCharRange('a', 'z').ofLength(16).map(s -> "pii" + s);
    }

    @Property(tries = 1000)
    void rejectionsNeverRepeatWhatWasSent(@ForAll("marker") String marker, @ForAll("shape") int shape) {
        String json = switch (shape) {
            case 0 -> "{\"request_id\":\"r\",\"" + marker + "\":1}";
            case 1 -> "{\"request_id\":\"r\",\"identifier\":{\"type\":\"id\",\"value\":\"" + marker + "@x.io\"},"
                    + "\"regulation\":\"GDPR\",\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"d\"}";
            case 2 -> "{\"request_id\":\"" + marker + "\u0001\"}";
            case 3 -> "{\"request_id\":\"r\",\"identifier\":{\"type\":\"" + marker + "\",\"value\":\"v\"}}";
            case 4 -> "{\"request_id\":\"r\",\"identifier\":{\"type\":\"email\",\"value\":\"" + marker + "\"},"
                    + "\"regulation\":\"GDPR\",\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"d\"}";
            case 5 -> "{\"request_id\":\"r\",\"requested_at\":\"" + marker + "\"}";
            case 6 -> "[\"" + marker + "\"";
            default -> "{\"request_id\":\"r\",\"identifier\":{\"type\":\"email\",\"value\":\"a@b.co\"},\"regulation\":\""
                    + marker + "\",\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"d\"}";
        };
        ParseResult r = parser.parse(json.getBytes(StandardCharsets.UTF_8));
        assertThat(r).isInstanceOf(ParseResult.Invalid.class);
        assertThat(((ParseResult.Invalid) r).rejection().describe()).doesNotContain(marker);
    }

    @Provide
    Arbitrary<Integer> shape() {
        return Arbitraries.integers().between(0, 7);
    }

    @Property(tries = 200)
    void deeplyNestedJsonIsRejectedNotOverflowed(@ForAll("depth") int depth) {
        String json = "{\"request_id\":" + "[".repeat(depth) + "]".repeat(depth) + "}";
        ParseResult r = parser.parse(json.getBytes(StandardCharsets.UTF_8));
        assertThat(r).isInstanceOf(ParseResult.Invalid.class);
    }

    @Provide
    Arbitrary<Integer> depth() {
        return Arbitraries.integers().between(1, 5000);
    }

    @Property(tries = 500)
    void wrongTypesAreRejectedWithAReason(@ForAll("jsonValue") String a, @ForAll("jsonValue") String b) {
        String json = "{\"request_id\":" + a + ",\"identifier\":{\"type\":\"email\",\"value\":" + b + "},\"regulation\":\"GDPR\","
                + "\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"d\"}";
        ParseResult r = parser.parse(json.getBytes(StandardCharsets.UTF_8));
        if (r instanceof ParseResult.Invalid invalid) {
            assertThat(invalid.rejection().code()).isIn(Rejection.Code.WRONG_TYPE, Rejection.Code.MISSING_FIELD,
                    Rejection.Code.INVALID_VALUE, Rejection.Code.MALFORMED_JSON, Rejection.Code.TOO_DEEP);
        }
    }

    @Provide
    Arbitrary<String> jsonValue() {
        return Arbitraries.oneOf(
                Arbitraries.of("null", "true", "false", "0", "-1.5e308", "1e999999", "[]", "{}", "[1,2]", "{\"a\":{}}", "\"\""),
                Combinators.combine(Arbitraries.strings().alpha().ofMaxLength(5), Arbitraries.integers()).as((s, i) -> "\"" + s + "\""));
    }
}
