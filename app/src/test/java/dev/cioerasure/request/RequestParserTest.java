package dev.cioerasure.request;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.request.Rejection.Code;
import dev.cioerasure.testing.Messages;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RequestParserTest {
    private final RequestParser parser = new RequestParser(Clock.fixed(Instant.parse("2026-11-29T00:00:00Z"), ZoneOffset.UTC));

    private ParseResult parse(String json) {
        return parser.parse(json.getBytes(StandardCharsets.UTF_8));
    }

    private static String msg(String identifier, String extra) {
        return "{\"request_id\":\"r-1\",\"identifier\":" + identifier + ",\"regulation\":\"GDPR\","
                + "\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"privacy-desk/ticket-4711\"" + extra + "}";
    }

    private Rejection rejection(ParseResult r) {
        assertThat(r).isInstanceOf(ParseResult.Invalid.class);
        return ((ParseResult.Invalid) r).rejection();
    }

    @Test
    void acceptsTheContractExample() {
        ParseResult r = parser.parse(Messages.request("7d0c6a4e-1", "email", "jane@example.com"));
        assertThat(r).isInstanceOf(ParseResult.Valid.class);
        ErasureRequest req = ((ParseResult.Valid) r).request();
        assertThat(req.requestId()).isEqualTo("7d0c6a4e-1");
        assertThat(req.identifier()).isEqualTo(Identifier.email("jane@example.com"));
        assertThat(req.regulation()).isEqualTo(Regulation.GDPR);
        assertThat(req.requestedAt()).isEqualTo(Instant.parse("2026-11-28T10:00:00Z"));
        assertThat(req.deadline()).isEqualTo(Instant.parse("2026-12-28T10:00:00Z"));
        assertThat(req.requestedBy()).isEqualTo("privacy-desk/ticket-4711");
    }

    @Test
    void workspacesAreOptionalAndMustBeDistinctConfiguredNames() {
        String id = "{\"type\":\"id\",\"value\":\"p-1\"}";
        assertThat(((ParseResult.Valid) parse(msg(id, ""))).request().workspaces()).as("left out: every workspace").isEmpty();
        assertThat(((ParseResult.Valid) parse(msg(id, ",\"workspaces\":[\"eu\",\"us\"]"))).request().workspaces())
                .containsExactly("eu", "us");
        assertThat(rejection(parse(msg(id, ",\"workspaces\":[]"))).describe())
                .isEqualTo("INVALID_VALUE: workspaces must name 1-16 workspaces (leave it out for every workspace)");
        assertThat(rejection(parse(msg(id, ",\"workspaces\":\"eu\""))).code()).isEqualTo(Code.WRONG_TYPE);
        assertThat(rejection(parse(msg(id, ",\"workspaces\":[1]"))).code()).isEqualTo(Code.WRONG_TYPE);
        assertThat(rejection(parse(msg(id, ",\"workspaces\":[\"eu\",\"eu\"]"))).describe())
                .isEqualTo("INVALID_VALUE: workspaces: a workspace is named twice");
        assertThat(rejection(parse(msg(id, ",\"workspaces\":[\"EU west\"]"))).describe())
                .startsWith("INVALID_VALUE: workspaces: a name is a-z").doesNotContain("EU west");

        RequestParser configured = new RequestParser(Clock.fixed(Instant.parse("2026-11-29T00:00:00Z"), ZoneOffset.UTC),
                java.util.List.of("us", "eu"));
        assertThat(configured.parse(msg(id, ",\"workspaces\":[\"eu\"]").getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(ParseResult.Valid.class);
        ParseResult unknown = configured.parse(msg(id, ",\"workspaces\":[\"eu\",\"apac\",\"staging\"]").getBytes(StandardCharsets.UTF_8));
        assertThat(rejection(unknown).describe()).as("names the configured workspaces, never the message's")
                .isEqualTo("INVALID_VALUE: workspaces: 2 unknown workspaces (configured: eu, us)");
        assertThat(((ParseResult.Invalid) unknown).requestId()).contains("r-1");
    }

    @Test
    void theOffsetRequestedAtIsWrittenWithCountsTowardsTheDeadlineAndSurvivesRewriting() {
        byte[] written = new String(Messages.request("r-tz", "id", "p-1"), StandardCharsets.UTF_8)
                .replace("\"requested_at\":\"2026-11-28T10:00:00Z\"", "\"requested_at\":\"2026-03-31T01:00:00+02:00\"")
                .getBytes(StandardCharsets.UTF_8);
        ErasureRequest r = ((ParseResult.Valid) parser.parse(written)).request();
        assertThat(r.requestedAt()).isEqualTo(Instant.parse("2026-03-30T23:00:00Z"));
        assertThat(r.deadline()).isEqualTo(Instant.parse("2026-04-29T23:00:00Z"));
        // the intake and the tools write requests again: the offset goes with them
        assertThat(new String(RequestJson.toBytes(r), StandardCharsets.UTF_8)).contains("\"requested_at\":\"2026-03-31T01:00:00+02:00\"");
        assertThat(((ParseResult.Valid) parser.parse(RequestJson.toBytes(r))).request()).isEqualTo(r);
        ErasureRequest utc = ((ParseResult.Valid) parser.parse(Messages.request("r-utc", "id", "p-1"))).request();
        assertThat(new String(RequestJson.toBytes(utc), StandardCharsets.UTF_8)).contains("\"requested_at\":\"2026-11-28T10:00:00Z\"");
    }

    @Test
    void acceptsAnOffsetTimestamp() {
        ParseResult r = parser.parse(Messages.request("r", "id", "42", "CCPA", "2026-11-28T12:00:00+02:00"));
        assertThat(((ParseResult.Valid) r).request().requestedAt()).isEqualTo(Instant.parse("2026-11-28T10:00:00Z"));
    }

    /** RFC 3339 section 5.6 and the forms Java's OffsetDateTime.toString() writes; the instant each is read as. */
    @ParameterizedTest
    @CsvSource({
            "2026-11-28T10:00:00Z,                 2026-11-28T10:00:00Z",
            "2026-11-28t10:00:00z,                 2026-11-28T10:00:00Z",
            "2026-11-28T10:00:00.5-08:00,          2026-11-28T18:00:00.500Z",
            "2026-11-28T10:00:00.1234567891Z,      2026-11-28T10:00:00.123456789Z",
            "2016-12-31T23:59:60Z,                 2016-12-31T23:59:59Z",
            "2016-12-31T15:59:60.25-08:00,         2016-12-31T23:59:59.250Z",
            "2026-11-28T10:00Z,                    2026-11-28T10:00:00Z",
            "2026-11-28T10:00:00+02,               2026-11-28T08:00:00Z"})
    void requestedAtTakesEveryRfc3339FormAndJavasOwn(String written, String instant) {
        ParseResult r = parser.parse(Messages.request("r", "id", "42", "GDPR", written));
        assertThat(r).as(written).isInstanceOf(ParseResult.Valid.class);
        assertThat(((ParseResult.Valid) r).request().requestedAt()).isEqualTo(Instant.parse(instant));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "2016-12-31T23:58:60Z", "2016-12-31T23:59:60+01:00", "2026-11-28T10:00:61Z", "2026-11-28 10:00:00Z",
            "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00+0200", "2026-11-28T10:00:00+19:00", "2026-02-29T10:00:00Z",
            "2026-11-28T24:00:00Z", "2026-11-28T10:00:00", "2026-11-28T10:00:00,5Z", "2026-11-28T\u0661\u0660:00:00Z"})
    void requestedAtRefusesWhatIsNoTimestamp(String written) {
        assertThat(rejection(parser.parse(Messages.request("r", "id", "42", "GDPR", written))).describe()).as(written)
                .isEqualTo("INVALID_VALUE: requested_at must be an RFC 3339 timestamp with offset, e.g. 2026-11-28T10:00:00Z");
    }

    @Test
    void unknownFieldsAreRejectedWithoutNamingThem() {
        Rejection top = rejection(parse(msg("{\"type\":\"email\",\"value\":\"a@b.co\"}", ",\"jane@example.com\":1")));
        assertThat(top.code()).isEqualTo(Code.UNKNOWN_FIELD);
        assertThat(top.detail()).doesNotContain("jane");
        Rejection nested = rejection(parse(msg("{\"type\":\"email\",\"value\":\"a@b.co\",\"name\":\"Jane\"}", "")));
        assertThat(nested.code()).isEqualTo(Code.UNKNOWN_FIELD);
        assertThat(nested.detail()).contains("identifier").doesNotContain("name\"");
    }

    @Test
    void anUnknownFieldStillReportsTheRequestId() {
        ParseResult r = parse(msg("{\"type\":\"email\",\"value\":\"a@b.co\"}", ",\"profile\":{}"));
        assertThat(((ParseResult.Invalid) r).requestId()).contains("r-1");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "empty object                 | {}                                                                  | MISSING_FIELD",
            "array                        | []                                                                  | NOT_AN_OBJECT",
            "string                       | \"x\"                                                               | NOT_AN_OBJECT",
            "broken                       | {\"request_id\":                                                    | MALFORMED_JSON",
            "trailing garbage             | {\"request_id\":\"a\"} x                                            | MALFORMED_JSON",
            "duplicate key                | {\"request_id\":\"a\",\"request_id\":\"b\"}                         | MALFORMED_JSON",
            "numeric id                   | {\"request_id\":5}                                                  | WRONG_TYPE",
            "deep nesting                 | {\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}                                   | TOO_DEEP",
            "comment                      | {/*c*/\"request_id\":\"a\"}                                         | MALFORMED_JSON"
    })
    void structuralProblemsAreRejected(String name, String json, Code code) {
        assertThat(rejection(parse(json)).code()).isEqualTo(code);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "type missing          | {\"value\":\"a@b.co\"}                          | MISSING_FIELD",
            "type unknown          | {\"type\":\"phone\",\"value\":\"1\"}            | INVALID_VALUE",
            "value number          | {\"type\":\"id\",\"value\":1}                   | WRONG_TYPE",
            "value null            | {\"type\":\"id\",\"value\":null}                | MISSING_FIELD",
            "value empty           | {\"type\":\"id\",\"value\":\"\"}                | INVALID_VALUE",
            "email without at      | {\"type\":\"email\",\"value\":\"jane\"}         | INVALID_VALUE",
            "email with space      | {\"type\":\"email\",\"value\":\"ja ne@b.co\"}   | INVALID_VALUE",
            "email no domain dot   | {\"type\":\"email\",\"value\":\"jane@b\"}       | INVALID_VALUE",
            "id looks like email   | {\"type\":\"id\",\"value\":\"jane@b.co\"}       | INVALID_VALUE",
            "id looks like cio_id  | {\"type\":\"id\",\"value\":\"cio_abc\"}         | INVALID_VALUE",
            "id of dots            | {\"type\":\"id\",\"value\":\"..\"}              | INVALID_VALUE",
            "id with leading space | {\"type\":\"id\",\"value\":\" a\"}              | INVALID_VALUE",
            "id ending in no-break space | {\"type\":\"id\",\"value\":\"a\u00a0\"} | INVALID_VALUE",
            "id ending in ideographic space | {\"type\":\"id\",\"value\":\"a\u3000\"} | INVALID_VALUE",
            "id with newline       | {\"type\":\"id\",\"value\":\"a\\nb\"}           | INVALID_VALUE",
            "id with NUL           | {\"type\":\"id\",\"value\":\"a\\u0000b\"}       | INVALID_VALUE",
            "id with bidi override | {\"type\":\"id\",\"value\":\"a\\u202eb\"}       | INVALID_VALUE",
            "id lone surrogate     | {\"type\":\"id\",\"value\":\"a\\ud800b\"}       | INVALID_VALUE",
            "email with tag char   | {\"type\":\"email\",\"value\":\"jane@b.co\\udb40\\udc20\"} | INVALID_VALUE",
            "id with tag char      | {\"type\":\"id\",\"value\":\"a\\udb40\\udc01b\"} | INVALID_VALUE",
            "id with music format  | {\"type\":\"id\",\"value\":\"a\\ud834\\udd73b\"} | INVALID_VALUE",
            "cio_id with prefix    | {\"type\":\"cio_id\",\"value\":\"cio_abc\"}     | INVALID_VALUE",
            "cio_id with slash     | {\"type\":\"cio_id\",\"value\":\"a/b\"}         | INVALID_VALUE",
            "identifier string     | \"jane@b.co\"                                   | WRONG_TYPE"
    })
    void identifierProblemsAreRejected(String name, String identifier, Code code) {
        Rejection r = rejection(parse(msg(identifier, "")));
        assertThat(r.code()).isEqualTo(code);
        assertThat(r.detail()).doesNotContain("jane");
    }

    /** Beyond the first plane, only what is invisible is refused: tag characters were let through, an emoji still is. */
    @Test
    void charactersBeyondTheFirstPlaneAreCheckedLikeTheOthers() {
        assertThat(parse(msg("{\"type\":\"id\",\"value\":\"fan-\ud83d\ude00-7\"}", ""))).isInstanceOf(ParseResult.Valid.class);
        assertThat(parse(msg("{\"type\":\"id\",\"value\":\"\ud840\udc0b\"}", ""))).as("a CJK ideograph").isInstanceOf(ParseResult.Valid.class);
        assertThat(rejection(parse(msg("{\"type\":\"id\",\"value\":\"fan-7\udb40\udc7f\"}", ""))).detail())
                .isEqualTo("identifier.value contains control, invisible or unpaired surrogate characters (the first: U+E007F, character 6)");
        assertThat(rejection(parse(msg("{\"type\":\"id\",\"value\":\"fan-7\"}", "").replace("privacy-desk/ticket-4711",
                "desk\\u202e/4711"))).detail()).isEqualTo("requested_by must be 1-200 visible characters (the first that is not: U+202E,"
                + " character 5)");
    }

    /**
     * As far as README's "The request message" says and no further: Customer.io may hold an
     * address no mail server would take, and it must still be erasable by it.
     */
    @Test
    void anEmailAddressIsCheckedForItsShapeOnly() {
        for (String kept : new String[] {"jane@localhost", "jané@exämple.com", "a+tag@b.co", "a@@b.co", "a@b..co", "A@B.CO"}) {
            assertThat(parse(msg("{\"type\":\"email\",\"value\":\"" + kept + "\"}", ""))).as(kept).isInstanceOf(ParseResult.Valid.class);
        }
        for (String refused : new String[] {"@b.co", "jane@", "jane@b", "ja ne@b.co", "jane@b.co\\u00a0", "a".repeat(250) + "@b.co"}) {
            assertThat(rejection(parse(msg("{\"type\":\"email\",\"value\":\"" + refused + "\"}", ""))).code()).as(refused)
                    .isEqualTo(Code.INVALID_VALUE);
        }
    }

    /** The schema's maxLength counts characters (code points), and so does the worker: not UTF-16 units. */
    @Test
    void lengthsAreCountedInCharactersAsTheSchemaCountsThem() {
        String emoji = "\ud83d\udd12";
        String json = msg("{\"type\":\"email\",\"value\":\"jane@example.com\"}", "");
        String desk = "\"requested_by\":\"privacy-desk/ticket-4711\"";
        assertThat(json).contains(desk);
        assertThat(parse(json.replace(desk, "\"requested_by\":\"" + emoji.repeat(200) + "\"")))
                .isInstanceOf(ParseResult.Valid.class);
        assertThat(rejection(parse(json.replace(desk, "\"requested_by\":\"" + emoji.repeat(201) + "\"")))
                .detail()).isEqualTo("requested_by must be 1-200 visible characters");
        String address = emoji.repeat(247) + "@b.co"; // 252 characters, 499 UTF-16 units; 255 with three more
        assertThat(parse(msg("{\"type\":\"email\",\"value\":\"" + address + "\"}", ""))).isInstanceOf(ParseResult.Valid.class);
        assertThat(rejection(parse(msg("{\"type\":\"email\",\"value\":\"" + emoji + "xy" + address + "\"}", ""))).code())
                .isEqualTo(Code.INVALID_VALUE);
    }

    @Test
    void anIdLongerThan150BytesIsRejected() {
        assertThat(rejection(parse(msg("{\"type\":\"id\",\"value\":\"" + "é".repeat(76) + "\"}", ""))).code()).isEqualTo(Code.INVALID_VALUE);
        assertThat(parse(msg("{\"type\":\"id\",\"value\":\"" + "é".repeat(75) + "\"}", ""))).isInstanceOf(ParseResult.Valid.class);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "lower-case regulation | \"regulation\":\"GDPR\"                  | \"regulation\":\"gdpr\"",
            "other regulation      | \"regulation\":\"GDPR\"                  | \"regulation\":\"LGPD\"",
            "date without offset   | \"2026-11-28T10:00:00Z\"                 | \"2026-11-28T10:00:00\"",
            "far future date       | \"2026-11-28T10:00:00Z\"                 | \"2027-01-01T00:00:00Z\"",
            "ancient date          | \"2026-11-28T10:00:00Z\"                 | \"1999-01-01T00:00:00Z\"",
            "requester is an email | \"privacy-desk/ticket-4711\"             | \"someone@company.com\"",
            "requester blank       | \"privacy-desk/ticket-4711\"             | \"  \"",
            "request id with tab   | \"r-1\"                                  | \"r\\t1\"",
            "request id non-ascii  | \"r-1\"                                  | \"r-é\"",
            "request id spaces     | \"r-1\"                                  | \" r-1\""
    })
    void fieldRulesAreEnforced(String name, String from, String to) {
        String json = msg("{\"type\":\"email\",\"value\":\"a@b.co\"}", "").replace(from, to);
        assertThat(json).isNotEqualTo(msg("{\"type\":\"email\",\"value\":\"a@b.co\"}", ""));
        assertThat(rejection(parse(json)).code()).isEqualTo(Code.INVALID_VALUE);
    }

    @Test
    void oversizeEmptyAndInvalidUtf8AreRejectedBeforeParsing() {
        assertThat(rejection(parser.parse(new byte[RequestParser.MAX_MESSAGE_BYTES + 1])).code()).isEqualTo(Code.OVERSIZE);
        assertThat(rejection(parser.parse(new byte[0])).code()).isEqualTo(Code.EMPTY);
        assertThat(rejection(parser.parse(null)).code()).isEqualTo(Code.EMPTY);
        assertThat(rejection(parser.parse(new byte[] {'{', (byte) 0xc3, '}'})).code()).isEqualTo(Code.NOT_UTF8);
    }

    /**
     * UTF-16 and UTF-32 without a byte order mark are valid UTF-8 byte for byte (their ASCII
     * characters come with NULs), and Jackson reads such bytes in those encodings: the message was
     * accepted, against the contract's UTF-8. A NUL is never in UTF-8 JSON.
     */
    @Test
    void aMessageInUtf16OrUtf32IsNotUtf8() {
        String json = new String(Messages.request("r-16", "email", "jane@example.com"), StandardCharsets.UTF_8);
        for (java.nio.charset.Charset cs : new java.nio.charset.Charset[] {
                StandardCharsets.UTF_16LE, StandardCharsets.UTF_16BE, java.nio.charset.Charset.forName("UTF-32BE"),
                java.nio.charset.Charset.forName("UTF-32LE")}) {
            Rejection r = rejection(parser.parse(json.getBytes(cs)));
            assertThat(r.code()).as(cs.name()).isEqualTo(Code.NOT_UTF8);
            assertThat(r.describe()).contains("NUL bytes: UTF-16 or UTF-32 text, not UTF-8");
        }
        assertThat(rejection(parser.parse(msg("{\"type\":\"id\",\"value\":\"p\u0000\"}", "").getBytes(StandardCharsets.UTF_8))).code())
                .isEqualTo(Code.NOT_UTF8);
        assertThat(parser.parse(json.getBytes(StandardCharsets.UTF_8))).isInstanceOf(ParseResult.Valid.class);
    }

    @Test
    void rejectionDetailsNeverQuoteTheInput() {
        ParseResult r = parse("{\"request_id\": \"jane@example.com is here\" ");
        assertThat(rejection(r).detail()).doesNotContain("jane");
    }

    /** A reference built from the person would put the identifier where the keyed hash stands for it. */
    @Test
    void referencesThatNameThePersonAreRefusedWithoutKeepingThem() {
        ParseResult email = parser.parse(Messages.request("jane@example.com", "email", "jane@example.com"));
        assertThat(rejection(email).describe()).isEqualTo("INVALID_VALUE: request_id must not contain '@': it is logged and stored"
                + " as written, so never an email address (use a ticket number or a UUID)");
        assertThat(((ParseResult.Invalid) email).requestId()).as("not kept for the audit row, the DLQ header or the log").isEmpty();
        assertThat(rejection(parser.parse(Messages.request("dpo@company.com", "id", "p-1"))).code())
                .as("someone else's address too").isEqualTo(Code.INVALID_VALUE);

        for (String id : new String[] {"erase-User-8812", "User-8812", "user-8812/ticket 4711", "PRIV-1:user-8812."}) {
            ParseResult r = parser.parse(Messages.request(id, "id", "user-8812"));
            assertThat(rejection(r).describe()).as(id).startsWith("INVALID_VALUE: request_id holds the identifier's value")
                    .doesNotContainIgnoringCase("8812");
            assertThat(((ParseResult.Invalid) r).requestId()).as(id).isEmpty();
        }
        ParseResult cio = parser.parse(Messages.request("erase-cio_a1b2c3d4", "cio_id", "a1b2c3d4"));
        assertThat(((ParseResult.Invalid) cio).requestId()).isEmpty();
        ParseResult unknownField = parse("{\"request_id\":\"erase-8812\",\"identifier\":{\"type\":\"id\",\"value\":\"8812\"},\"x\":1}");
        assertThat(rejection(unknownField).code()).isEqualTo(Code.UNKNOWN_FIELD);
        assertThat(((ParseResult.Invalid) unknownField).requestId()).as("not kept with another problem either").isEmpty();

        ParseResult by = parser.parse(new String(Messages.request("PRIV-1", "id", "user-8812"), StandardCharsets.UTF_8)
                .replace("privacy-desk/ticket-4711", "ticket 4711 for USER-8812").getBytes(StandardCharsets.UTF_8));
        assertThat(rejection(by).describe()).isEqualTo("INVALID_VALUE: requested_by holds the identifier's value: it is stored in the"
                + " audit table, so a team or ticket reference only");
        assertThat(((ParseResult.Invalid) by).requestId()).contains("PRIV-1");

        // Not the person: the value inside a longer number or word, a short value, what cio-erasure makes itself.
        for (String[] ok : new String[][] {{"PRIV-188120", "8812"}, {"user-88120", "user-8812"}, {"PRIV-123", "123"},
                {"sub-gdpr-0123456789abcdef0123456789abcdef", "gdpr"},
                {"cio-webhook-ccpa-2026-12-06-0123456789abcdef0123456789abcdef", "webhook"}}) {
            assertThat(parser.parse(Messages.request(ok[0], "id", ok[1]))).as(ok[0]).isInstanceOf(ParseResult.Valid.class);
        }
        assertThat(parser.parse(new String(Messages.request("r-1", "id", "customerio"), StandardCharsets.UTF_8)
                .replace("privacy-desk/ticket-4711", RequestParser.WEBHOOK_REQUESTED_BY).getBytes(StandardCharsets.UTF_8)))
                .as("the webhook intake's requester").isInstanceOf(ParseResult.Valid.class);
    }

    @Test
    void aRequestTheWorkerAdmittedBeforeIsNotRefusedForItsReferences() {
        byte[] old = Messages.request("erase-jane@example.com", "email", "jane@example.com");
        assertThat(parser.parse(old)).isInstanceOf(ParseResult.Invalid.class);
        assertThat(parser.parseAdmitted(old)).as("parked by an older release: finished, not refused").isInstanceOf(ParseResult.Valid.class);
        assertThat(parser.parseAdmitted(Messages.request("r-1", "id", "a@b.co"))).as("the rest of the contract holds")
                .isInstanceOf(ParseResult.Invalid.class);
    }
}
