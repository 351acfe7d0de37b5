package dev.cioerasure.request;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.cioerasure.text.VisibleText;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Parses and validates one request message against the contract (see
 * {@code schema/erasure-request.schema.json}). Total: every input, however hostile, yields a
 * {@link ParseResult}; nothing throws. Rejection details name fields and rules, never values.
 */
public final class RequestParser {

    /** Larger messages are rejected unread: a request is ~300 bytes; 16 KiB leaves ample room. */
    public static final int MAX_MESSAGE_BYTES = 16 * 1024;
    static final int MAX_DEPTH = 8;
    static final int MAX_REQUEST_ID = 128;
    static final int MAX_EMAIL = 254;
    /** Customer.io limits ids to 150 bytes. */
    static final int MAX_ID_BYTES = 150;
    static final int MAX_CIO_ID = 64;
    static final int MAX_REQUESTED_BY = 200;
    /** Tolerated clock skew for requested_at in the future. */
    static final Duration FUTURE_TOLERANCE = Duration.ofHours(1);
    static final Instant EARLIEST = Instant.parse("2000-01-01T00:00:00Z");
    /** The {@code requested_by} of the requests the webhook intake makes. */
    public static final String WEBHOOK_REQUESTED_BY = "customerio-webhook";

    private static final Set<String> TOP_FIELDS =
            Set.of("request_id", "identifier", "regulation", "requested_at", "requested_by", "workspaces");
    /** A request names at most as many workspaces as the configuration may hold, each by the configuration's rule for names. */
    static final int MAX_WORKSPACES = dev.cioerasure.config.Settings.Workspace.MAX;
    private static final java.util.regex.Pattern WORKSPACE_NAME = dev.cioerasure.config.Settings.Workspace.NAME;
    private static final Set<String> IDENTIFIER_FIELDS = Set.of("type", "value");

    private final ObjectMapper mapper;
    private final Clock clock;
    /** The configured workspace names a request may name, sorted; null: any well-formed name. */
    private final java.util.SortedSet<String> workspaces;

    /** A parser that checks the form of workspace names only (e.g. for {@code submit}). */
    public RequestParser(Clock clock) {
        this(clock, null);
    }

    /**
     * @param workspaces the configured workspaces: a request naming another one is invalid
     */
    public RequestParser(Clock clock, java.util.Collection<String> workspaces) {
        this.clock = clock;
        this.workspaces = workspaces == null ? null : java.util.Collections.unmodifiableSortedSet(new java.util.TreeSet<>(workspaces));
        this.mapper = strictJson();
    }

    /**
     * The JSON reader of every request body, from the topic or the intake's webhook: a field named
     * twice, a second value after the first, a comment, deeper nesting than {@link #MAX_DEPTH} or a
     * 40-digit number is an error, never a guess at which value was meant.
     */
    public static JsonMapper strictJson() {
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(MAX_DEPTH)
                        .maxStringLength(MAX_MESSAGE_BYTES)
                        .maxNumberLength(40)
                        .build())
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build();
        JsonMapper mapper = JsonMapper.builder(factory)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .build();
        mapper.getFactory().disable(JsonParser.Feature.ALLOW_COMMENTS);
        return mapper;
    }

    public ParseResult parse(byte[] message) {
        return parse(message, true);
    }

    /**
     * A request this worker admitted before and wrote to its retry or verification topic: the
     * contract without the rules that keep a person out of the references ({@link PersonInReferences}),
     * which it was checked against when it arrived, or was not, by an older release: a request
     * half done is finished, not refused.
     */
    public ParseResult parseAdmitted(byte[] message) {
        return parse(message, false);
    }

    private ParseResult parse(byte[] message, boolean arriving) {
        if (message == null || message.length == 0) {
            return invalid(Rejection.Code.EMPTY, "message is empty", null);
        }
        if (message.length > MAX_MESSAGE_BYTES) {
            return invalid(Rejection.Code.OVERSIZE, "message is " + message.length + " bytes; the limit is " + MAX_MESSAGE_BYTES, null);
        }
        if (!isUtf8(message)) {
            return invalid(Rejection.Code.NOT_UTF8, "message is not valid UTF-8", null);
        }
        if (holdsNul(message)) {
            return invalid(Rejection.Code.NOT_UTF8, "message holds NUL bytes: UTF-16 or UTF-32 text, not UTF-8", null);
        }
        JsonNode root;
        try {
            root = mapper.readTree(message);
        } catch (StreamConstraintsException e) {
            return invalid(Rejection.Code.TOO_DEEP, "JSON nesting or size exceeds the limits (depth " + MAX_DEPTH + ")", null);
        } catch (IOException | RuntimeException e) {
            // Jackson's messages quote the input: only the location is kept.
            return invalid(Rejection.Code.MALFORMED_JSON, "not valid JSON" + location(e), null);
        }
        if (root == null || !root.isObject()) {
            return invalid(Rejection.Code.NOT_AN_OBJECT, "the message must be a JSON object", null);
        }
        return validate(root, arriving);
    }

    private ParseResult validate(JsonNode root, boolean arriving) {
        // The request id first, so that any later rejection can still name the ticket.
        JsonNode idNode = root.get("request_id");
        String requestId = null;
        Rejection idProblem = null;
        if (idNode == null || idNode.isNull()) {
            idProblem = new Rejection(Rejection.Code.MISSING_FIELD, "request_id is required");
        } else if (!idNode.isTextual()) {
            idProblem = new Rejection(Rejection.Code.WRONG_TYPE, "request_id must be a string");
        } else {
            String s = idNode.textValue();
            JsonNode value = root.path("identifier").path("value");
            if (!isRequestId(s)) {
                idProblem = new Rejection(Rejection.Code.INVALID_VALUE,
                        "request_id must be 1-" + MAX_REQUEST_ID + " printable ASCII characters without leading or trailing spaces");
            } else if (arriving && s.indexOf('@') >= 0) {
                // It is logged and stored as written, and goes unread into no rejection either.
                idProblem = new Rejection(Rejection.Code.INVALID_VALUE, "request_id must not contain '@': it is logged and stored"
                        + " as written, so never an email address (use a ticket number or a UUID)");
            } else if (arriving && value.isTextual() && PersonInReferences.requestIdNames(s, value.textValue())) {
                idProblem = new Rejection(Rejection.Code.INVALID_VALUE, "request_id holds the identifier's value: it is logged and"
                        + " stored as written, so never build it from the person's identifier (use a ticket number or a UUID)");
            } else {
                requestId = s;
            }
        }
        Rejection unknown = unknownField(root, TOP_FIELDS, "the top level");
        if (unknown != null) {
            return new ParseResult.Invalid(unknown, Optional.ofNullable(requestId));
        }
        if (idProblem != null) {
            return new ParseResult.Invalid(idProblem, Optional.empty());
        }
        Optional<String> rid = Optional.of(requestId);

        JsonNode idf = root.get("identifier");
        if (idf == null || idf.isNull()) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.MISSING_FIELD, "identifier is required"), rid);
        }
        if (!idf.isObject()) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.WRONG_TYPE, "identifier must be an object {type, value}"), rid);
        }
        Rejection unknownInIdentifier = unknownField(idf, IDENTIFIER_FIELDS, "identifier");
        if (unknownInIdentifier != null) {
            return new ParseResult.Invalid(unknownInIdentifier, rid);
        }
        Object type = requiredString(idf, "type", "identifier.type");
        if (type instanceof Rejection r) {
            return new ParseResult.Invalid(r, rid);
        }
        Optional<IdentifierType> idType = IdentifierType.fromWire((String) type);
        if (idType.isEmpty()) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE,
                    "identifier.type must be one of id, email, cio_id"), rid);
        }
        Object value = requiredString(idf, "value", "identifier.value");
        if (value instanceof Rejection r) {
            return new ParseResult.Invalid(r, rid);
        }
        Rejection valueProblem = checkIdentifierValue(idType.get(), (String) value);
        if (valueProblem != null) {
            return new ParseResult.Invalid(valueProblem, rid);
        }

        Object reg = requiredString(root, "regulation", "regulation");
        if (reg instanceof Rejection r) {
            return new ParseResult.Invalid(r, rid);
        }
        Regulation regulation;
        if ("GDPR".equals(reg)) {
            regulation = Regulation.GDPR;
        } else if ("CCPA".equals(reg)) {
            regulation = Regulation.CCPA;
        } else {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE, "regulation must be GDPR or CCPA"), rid);
        }

        Object at = requiredString(root, "requested_at", "requested_at");
        if (at instanceof Rejection r) {
            return new ParseResult.Invalid(r, rid);
        }
        Instant requestedAt;
        java.time.ZoneOffset writtenWith;
        try {
            OffsetDateTime written = RequestedAt.parse((String) at);
            requestedAt = written.toInstant();
            writtenWith = written.getOffset();
        } catch (DateTimeException e) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE,
                    "requested_at must be an RFC 3339 timestamp with offset, e.g. 2026-11-28T10:00:00Z"), rid);
        }
        if (requestedAt.isBefore(EARLIEST) || requestedAt.isAfter(clock.instant().plus(FUTURE_TOLERANCE))) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE,
                    "requested_at must lie between 2000-01-01 and now (+1 h clock skew)"), rid);
        }

        Object by = requiredString(root, "requested_by", "requested_by");
        if (by instanceof Rejection r) {
            return new ParseResult.Invalid(r, rid);
        }
        String requestedBy = (String) by;
        String hidden = VisibleText.describeFirstHidden(requestedBy);
        if (requestedBy.codePoints().allMatch(VisibleText::isSpace) || characters(requestedBy) > MAX_REQUESTED_BY || hidden != null) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE,
                    "requested_by must be 1-" + MAX_REQUESTED_BY + " visible characters" + (hidden == null ? "" : " (the first that is not: "
                            + hidden + ")")), rid);
        }
        if (requestedBy.indexOf('@') >= 0) {
            // It is stored in the audit table: a team or ticket reference, never someone's address.
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE,
                    "requested_by must be a team or ticket reference, not an email address"), rid);
        }
        if (arriving && PersonInReferences.requestedByNames(requestedBy, (String) value)) {
            return new ParseResult.Invalid(new Rejection(Rejection.Code.INVALID_VALUE,
                    "requested_by holds the identifier's value: it is stored in the audit table, so a team or ticket reference only"), rid);
        }
        Object named = workspaces(root.get("workspaces"));
        if (named instanceof Rejection r) {
            return new ParseResult.Invalid(r, rid);
        }
        @SuppressWarnings("unchecked")
        List<String> targets = (List<String>) named;
        return new ParseResult.Valid(new ErasureRequest(requestId,
                new Identifier(idType.get(), (String) value), regulation, requestedAt, requestedBy, targets, writtenWith));
    }

    /**
     * The optional {@code workspaces}: a non-empty list of distinct configured names; absent means
     * every workspace. Rejections name the configured workspaces, never the message's values.
     */
    private Object workspaces(JsonNode node) {
        if (node == null) {
            return List.of();
        }
        if (!node.isArray()) {
            return new Rejection(Rejection.Code.WRONG_TYPE, "workspaces must be a list of workspace names");
        }
        if (node.isEmpty() || node.size() > MAX_WORKSPACES) {
            return new Rejection(Rejection.Code.INVALID_VALUE,
                    "workspaces must name 1-" + MAX_WORKSPACES + " workspaces (leave it out for every workspace)");
        }
        List<String> names = new java.util.ArrayList<>();
        int unknown = 0;
        for (JsonNode n : node) {
            if (!n.isTextual()) {
                return new Rejection(Rejection.Code.WRONG_TYPE, "workspaces must be a list of workspace names (strings)");
            }
            String name = n.asText();
            if (!WORKSPACE_NAME.matcher(name).matches()) {
                return new Rejection(Rejection.Code.INVALID_VALUE,
                        "workspaces: a name is a-z, 0-9, '-' and '_', starting with a letter or digit, at most 32");
            }
            if (names.contains(name)) {
                return new Rejection(Rejection.Code.INVALID_VALUE, "workspaces: a workspace is named twice");
            }
            if (workspaces != null && !workspaces.contains(name)) {
                unknown++;
            }
            names.add(name);
        }
        if (unknown > 0) {
            return new Rejection(Rejection.Code.INVALID_VALUE, "workspaces: " + unknown + " unknown workspace"
                    + (unknown == 1 ? "" : "s") + " (configured: " + String.join(", ", workspaces) + ")");
        }
        return List.copyOf(names);
    }

    static Rejection checkIdentifierValue(IdentifierType type, String v) {
        if (v.isEmpty() || v.isBlank()) {
            return new Rejection(Rejection.Code.INVALID_VALUE, "identifier.value must not be empty");
        }
        String hidden = VisibleText.describeFirstHidden(v);
        if (hidden != null) {
            // which and where, never the value: the one to remove from a file of thousands of rows
            return new Rejection(Rejection.Code.INVALID_VALUE,
                    "identifier.value contains control, invisible or unpaired surrogate characters (the first: " + hidden + ")");
        }
        switch (type) {
            case EMAIL -> {
                int at = v.lastIndexOf('@');
                if (characters(v) > MAX_EMAIL || at <= 0 || at == v.length() - 1 || hasWhitespace(v)
                        || v.substring(at + 1).indexOf('.') < 0 && !v.substring(at + 1).equals("localhost")) {
                    return new Rejection(Rejection.Code.INVALID_VALUE,
                            "identifier.value is not an email address (local@domain, no spaces, at most " + MAX_EMAIL + " characters)");
                }
            }
            case ID -> {
                if (v.getBytes(StandardCharsets.UTF_8).length > MAX_ID_BYTES) {
                    return new Rejection(Rejection.Code.INVALID_VALUE, "identifier.value: an id is at most " + MAX_ID_BYTES + " bytes");
                }
                // Customer.io infers the identifier type from its shape: an id that looks like an
                // email or a cio_id would erase someone else, so it is refused, not guessed.
                if (v.indexOf('@') >= 0) {
                    return new Rejection(Rejection.Code.INVALID_VALUE,
                            "identifier.value: an id containing '@' is ambiguous (Customer.io would treat it as an email); send it as type email");
                }
                if (v.startsWith("cio_")) {
                    return new Rejection(Rejection.Code.INVALID_VALUE,
                            "identifier.value: an id starting with 'cio_' is ambiguous; send a cio_id as type cio_id without the prefix");
                }
                if (v.chars().allMatch(c -> c == '.')) {
                    return new Rejection(Rejection.Code.INVALID_VALUE, "identifier.value: an id cannot consist of dots only");
                }
                // any Unicode space, as the schema's \s: strip() kept a no-break space (U+00A0)
                if (VisibleText.isSpace(v.codePointAt(0)) || VisibleText.isSpace(v.codePointBefore(v.length()))) {
                    return new Rejection(Rejection.Code.INVALID_VALUE, "identifier.value: an id cannot start or end with whitespace");
                }
            }
            case CIO_ID -> {
                if (v.length() > MAX_CIO_ID || !v.chars().allMatch(c -> c < 128 && Character.isLetterOrDigit(c))) {
                    return new Rejection(Rejection.Code.INVALID_VALUE,
                            "identifier.value: a cio_id is 1-" + MAX_CIO_ID + " letters and digits, without the cio_ prefix");
                }
            }
            default -> throw new IllegalStateException();
        }
        return null;
    }

    private static Object requiredString(JsonNode parent, String field, String path) {
        JsonNode n = parent.get(field);
        if (n == null || n.isNull()) {
            return new Rejection(Rejection.Code.MISSING_FIELD, path + " is required");
        }
        if (!n.isTextual()) {
            return new Rejection(Rejection.Code.WRONG_TYPE, path + " must be a string");
        }
        return n.textValue();
    }

    /** Names where the unknown field is and which are allowed, but not the field's own name: it is payload. */
    private static Rejection unknownField(JsonNode obj, Set<String> allowed, String where) {
        Iterator<String> names = obj.fieldNames();
        int unknown = 0;
        while (names.hasNext()) {
            if (!allowed.contains(names.next())) {
                unknown++;
            }
        }
        if (unknown == 0) {
            return null;
        }
        return new Rejection(Rejection.Code.UNKNOWN_FIELD, unknown + " unknown field" + (unknown == 1 ? "" : "s")
                + " at " + where + " (allowed: " + String.join(", ", allowed.stream().sorted().toList()) + ")");
    }

    private static ParseResult invalid(Rejection.Code code, String detail, String requestId) {
        return new ParseResult.Invalid(new Rejection(code, detail), Optional.ofNullable(requestId));
    }

    private static String location(Exception e) {
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getLocation() != null) {
            return " (line " + jpe.getLocation().getLineNr() + ", column " + jpe.getLocation().getColumnNr() + ")";
        }
        return "";
    }

    /**
     * A NUL byte: valid UTF-8, but never in UTF-8 JSON (JSON escapes it inside strings). Jackson
     * reads bytes whose first ones hold NULs as UTF-16 or UTF-32, so a message in either (all
     * its ASCII characters come with NULs) passed the UTF-8 check and was accepted; through
     * the intake such a body was published to the topic as it came.
     */
    public static boolean holdsNul(byte[] bytes) {
        for (byte b : bytes) {
            if (b == 0) {
                return true;
            }
        }
        return false;
    }

    static boolean isUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    /** Whether {@code s} can be a request id: 1-128 printable ASCII characters, no leading or trailing space. */
    public static boolean isRequestId(String s) {
        return !s.isEmpty() && s.length() <= MAX_REQUEST_ID && isPrintableAscii(s) && s.strip().equals(s);
    }

    private static boolean isPrintableAscii(String s) {
        return s.chars().allMatch(c -> c >= 0x20 && c <= 0x7e);
    }

    /**
     * Characters as the schema's {@code maxLength} counts them (code points): as UTF-16 units, a
     * {@code requested_by} of 120 emoji, valid by the schema, was refused as longer than 200.
     */
    private static int characters(String s) {
        return s.codePointCount(0, s.length());
    }

    private static boolean hasWhitespace(String s) {
        return s.codePoints().anyMatch(VisibleText::isSpace);
    }
}
