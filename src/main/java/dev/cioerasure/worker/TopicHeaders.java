package dev.cioerasure.worker;

/**
 * Headers on records moved to the dead-letter or retry topic (a contract for operators and their
 * tools). None carries personal data; the record's key and value are the original ones.
 */
public final class TopicHeaders {
    private TopicHeaders() { }

    /** The last value of a header as UTF-8 text, or null when absent. */
    public static String value(org.apache.kafka.common.header.Headers headers, String key) {
        org.apache.kafka.common.header.Header h = headers.lastHeader(key);
        return h == null ? null : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8);
    }

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
    /** On the retry topic: epoch milliseconds before which the record must not be processed. */
    public static final String NOT_BEFORE = "x-erasure-not-before";
    /** Set by {@code dlq replay} (value: the DLQ coordinates): a FAILED request may be tried again. */
    public static final String REPLAY = "x-erasure-replay";
}
