package dev.cioerasure.kafka;

import dev.cioerasure.text.VisibleText;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Headers on records moved to the dead-letter or retry topic (a contract for operators and their
 * tools). None carries personal data; the record's key and value are the original ones (or a
 * cut copy, see {@link #CUT}).
 *
 * <p>Only the worker writes headers in this namespace ({@code x-erasure-*}, {@code x-original-*},
 * {@code x-worker-instance}). On the request topic they are never trusted: anyone who may produce
 * there could write them. On the retry topic, which only the worker (and {@code dlq replay}) may
 * write, they are trusted after validation. Readers get a value only through {@link #valid}, which
 * checks the header's format and returns empty for anything else: a missing, null, empty, binary,
 * oversized or malformed value, so no tool prints what the worker did not write.
 */
public final class TopicHeaders {
    private TopicHeaders() { }

    /** Stable reason code: a rejection code (e.g. {@code UNKNOWN_FIELD}) or a failure verdict. */
    public static final String REASON_CODE = "x-erasure-reason-code";
    /** Reason for people; names rules and HTTP statuses, never values. */
    public static final String REASON = "x-erasure-reason";
    /** The request id, when the message had a valid one. */
    public static final String REQUEST_ID = "x-erasure-request-id";
    /** Where the message first arrived: topic, partition, offset, timestamp (epoch ms). */
    public static final String ORIGINAL_TOPIC = "x-original-topic";
    public static final String ORIGINAL_PARTITION = "x-original-partition";
    public static final String ORIGINAL_OFFSET = "x-original-offset";
    public static final String ORIGINAL_TIMESTAMP = "x-original-timestamp";
    /** The worker instance that moved it. */
    public static final String WORKER = "x-worker-instance";
    /** On the retry topic: the round this record is for (1 = first retry round). */
    public static final String RETRY_ROUND = "x-erasure-retry-round";
    /** Retry topic: how many times in a row the request was parked only because a workspace was paused (uses no round). */
    public static final String PAUSES = "x-erasure-pauses";
    /** On the retry topic: epoch milliseconds before which the record must not be processed. */
    public static final String NOT_BEFORE = "x-erasure-not-before";
    /** Set by {@code dlq replay} on the retry topic (value: the DLQ coordinates): a FAILED request may be tried again. */
    public static final String REPLAY = "x-erasure-replay";
    /** On the verification topic: checks of the person made so far (0 before the first). */
    public static final String VERIFY_CHECKS = "x-erasure-verify-checks";
    /** On the verification topic: epoch milliseconds after which a person still present is STILL_PRESENT. */
    public static final String VERIFY_DEADLINE = "x-erasure-verify-deadline";
    /** On the verification topic: what the last check learnt: {@code present}, {@code error} or {@code none} (no check yet). */
    public static final String VERIFY_LAST = "x-erasure-verify-last";
    /** On the verification topic: the last check's HTTP status, or the kind of failure ({@code timeout}, …). */
    public static final String VERIFY_LAST_STATUS = "x-erasure-verify-last-status";
    /** Verification topic: the workspace to check (absent on records from before workspaces: the single workspace). */
    public static final String VERIFY_WORKSPACE = "x-erasure-verify-workspace";
    /**
     * Present when the record could not be copied whole (too large for the producer or broker):
     * what was cut, {@code value} (dropped) and/or {@code key} (replaced by its SHA-256 in hex).
     */
    public static final String CUT = "x-erasure-cut";
    /** On a cut copy: the original value's size in bytes and its SHA-256 (hex); same for the key. */
    public static final String ORIGINAL_VALUE_SIZE = "x-erasure-original-value-size";
    public static final String ORIGINAL_VALUE_SHA256 = "x-erasure-original-value-sha256";
    public static final String ORIGINAL_KEY_SIZE = "x-erasure-original-key-size";
    public static final String ORIGINAL_KEY_SHA256 = "x-erasure-original-key-sha256";

    private static final int MAX_TEXT = 1000;
    private static final Pattern TOPIC = Pattern.compile("[a-zA-Z0-9._-]{1,249}");
    private static final Pattern NON_NEGATIVE = Pattern.compile("0|[1-9][0-9]{0,18}");
    private static final Predicate<String> LONG = v -> Pattern.matches("-?(0|[1-9][0-9]{0,18})", v) && parses(v);
    private static final Predicate<String> OFFSET = v -> NON_NEGATIVE.matcher(v).matches() && parses(v);
    private static final Predicate<String> PARTITION = v -> OFFSET.test(v) && Long.parseLong(v) <= Integer.MAX_VALUE;
    private static final Predicate<String> SHA256 = v -> Pattern.matches("[0-9a-f]{64}", v);
    /** Printable text without control or invisible characters (no terminal escapes, no invisible text): {@link VisibleText}. */
    private static final Predicate<String> TEXT = v -> v.length() <= MAX_TEXT && !VisibleText.hasControlOrInvisible(v);

    private static final Map<String, Predicate<String>> FORMATS = Map.ofEntries(
            Map.entry(REASON_CODE, v -> Pattern.matches("[A-Z][A-Z0-9_]{0,63}", v)),
            Map.entry(REASON, TEXT),
            Map.entry(REQUEST_ID, v -> Pattern.matches("[\\x21-\\x7e]{1,128}", v)),
            Map.entry(ORIGINAL_TOPIC, v -> TOPIC.matcher(v).matches()),
            Map.entry(ORIGINAL_PARTITION, PARTITION),
            Map.entry(ORIGINAL_OFFSET, OFFSET),
            Map.entry(ORIGINAL_TIMESTAMP, LONG),
            Map.entry(WORKER, v -> Pattern.matches("[\\x21-\\x7e]{1,200}", v)),
            Map.entry(RETRY_ROUND, v -> Pattern.matches("0|[1-9][0-9]{0,3}", v)),
            Map.entry(PAUSES, v -> Pattern.matches("0|[1-9][0-9]{0,5}", v)),
            Map.entry(NOT_BEFORE, LONG),
            Map.entry(REPLAY, v -> Pattern.matches("[a-zA-Z0-9._-]{1,249}-(0|[1-9][0-9]{0,9})@(0|[1-9][0-9]{0,18})", v)),
            Map.entry(CUT, v -> Pattern.matches("key|value|key,value", v)),
            Map.entry(ORIGINAL_VALUE_SIZE, OFFSET),
            Map.entry(ORIGINAL_VALUE_SHA256, SHA256),
            Map.entry(ORIGINAL_KEY_SIZE, OFFSET),
            Map.entry(ORIGINAL_KEY_SHA256, SHA256),
            Map.entry(VERIFY_CHECKS, v -> Pattern.matches("0|[1-9][0-9]{0,5}", v)),
            Map.entry(VERIFY_DEADLINE, LONG),
            Map.entry(VERIFY_LAST, v -> Pattern.matches("present|error|none", v)),
            Map.entry(VERIFY_LAST_STATUS, v -> Pattern.matches("[a-z0-9_ ]{1,40}", v)),
            Map.entry(VERIFY_WORKSPACE, v -> dev.cioerasure.config.Settings.Workspace.NAME.matcher(v).matches()));

    /**
     * The last value of one of this class's headers, if it is well-formed UTF-8 text in that
     * header's format; empty otherwise (absent, null, binary, malformed). Never throws.
     */
    public static Optional<String> valid(Headers headers, String key) {
        Predicate<String> format = FORMATS.get(key);
        if (format == null) {
            throw new IllegalArgumentException("not a cio-erasure header: " + key);
        }
        Header h = headers.lastHeader(key);
        if (h == null || h.value() == null || h.value().length == 0 || h.value().length > 4 * MAX_TEXT) {
            return Optional.empty();
        }
        try {
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(h.value())).toString();
            return format.test(text) ? Optional.of(text) : Optional.empty();
        } catch (CharacterCodingException e) {
            return Optional.empty();
        }
    }

    /** True when the header is present at all (whatever its value), e.g. to tell "absent" from "malformed". */
    public static boolean present(Headers headers, String key) {
        return headers.lastHeader(key) != null;
    }

    /** Where a record first arrived, as a dead letter or parked record says; all four headers valid, or empty. */
    public record Origin(String topic, int partition, long offset, long timestamp) {
        public static Optional<Origin> of(Headers h) {
            Optional<String> t = valid(h, ORIGINAL_TOPIC);
            Optional<String> p = valid(h, ORIGINAL_PARTITION);
            Optional<String> o = valid(h, ORIGINAL_OFFSET);
            Optional<String> ts = valid(h, ORIGINAL_TIMESTAMP);
            if (t.isEmpty() || p.isEmpty() || o.isEmpty() || ts.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(new Origin(t.get(), Integer.parseInt(p.get()), Long.parseLong(o.get()), Long.parseLong(ts.get())));
        }

        @Override
        public String toString() {
            return topic + "-" + partition + "@" + offset;
        }
    }

    /** For display: the value as the worker wrote it, {@code ?} when present but malformed, empty when absent. */
    public static String shown(Headers headers, String key) {
        return valid(headers, key).orElse(present(headers, key) ? "?" : "");
    }

    /** A header this program writes (UTF-8 text). */
    public record Written(String key, byte[] value) implements Header {
        public static Written of(String key, String value) {
            return new Written(key, value.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** The four headers that say where a record first arrived. */
    public static List<Header> origin(Origin o) {
        return List.of(Written.of(ORIGINAL_TOPIC, o.topic()), Written.of(ORIGINAL_PARTITION, Integer.toString(o.partition())),
                Written.of(ORIGINAL_OFFSET, Long.toString(o.offset())), Written.of(ORIGINAL_TIMESTAMP, Long.toString(o.timestamp())));
    }

    /**
     * The headers of {@code dlq replay}'s copy of a dead letter on the retry topic: the replay
     * marker (the dead letter's coordinates), then the valid request id, reason and first origin
     * of the dead letter. Nothing else is carried over.
     */
    public static List<Header> forReplay(Headers deadLetter, String dlqTopic, int partition, long offset) {
        List<Header> out = new ArrayList<>();
        out.add(Written.of(REPLAY, dlqTopic + "-" + partition + "@" + offset));
        for (String h : List.of(REQUEST_ID, REASON_CODE, REASON)) {
            valid(deadLetter, h).ifPresent(v -> out.add(Written.of(h, v)));
        }
        Origin.of(deadLetter).ifPresent(o -> out.addAll(origin(o)));
        return out;
    }

    /** True for a header name in the namespace only the worker may write. */
    public static boolean isOurs(String key) {
        return key.startsWith("x-erasure-") || key.startsWith("x-original-") || key.equals(WORKER);
    }

    private static boolean parses(String v) {
        try {
            Long.parseLong(v);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
