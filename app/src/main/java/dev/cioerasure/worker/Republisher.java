package dev.cioerasure.worker;

import static dev.cioerasure.kafka.TopicHeaders.CUT;
import static dev.cioerasure.kafka.TopicHeaders.NOT_BEFORE;
import static dev.cioerasure.kafka.TopicHeaders.ORIGINAL_KEY_SHA256;
import static dev.cioerasure.kafka.TopicHeaders.ORIGINAL_KEY_SIZE;
import static dev.cioerasure.kafka.TopicHeaders.ORIGINAL_VALUE_SHA256;
import static dev.cioerasure.kafka.TopicHeaders.ORIGINAL_VALUE_SIZE;
import static dev.cioerasure.kafka.TopicHeaders.REASON;
import static dev.cioerasure.kafka.TopicHeaders.REASON_CODE;
import static dev.cioerasure.kafka.TopicHeaders.REPLAY;
import static dev.cioerasure.kafka.TopicHeaders.REQUEST_ID;
import static dev.cioerasure.kafka.TopicHeaders.RETRY_ROUND;
import static dev.cioerasure.kafka.TopicHeaders.WORKER;

import dev.cioerasure.evidence.Digests;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.PolicyViolationException;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a record to the dead-letter topic or to the retry topic, with why and where it came from
 * in headers. The future completes when Kafka has acknowledged it, or when it can never be
 * published; it never fails except on shutdown, so no record holds its partition for good.
 *
 * <ul>
 *   <li>A transient failure (broker down, leader moving, timeout) is retried with backoff until it
 *       succeeds: a record is never dropped between two topics because of an outage.</li>
 *   <li>A permanent failure (too large for the producer or broker, invalid record, not authorised)
 *       is never retried as is. A cut copy is sent instead: the provenance headers, the reason,
 *       the original's sizes and SHA-256, the key replaced by its SHA-256 when over
 *       {@value #KEEP_KEY_BYTES} bytes, and, on the dead-letter topic, the value dropped (a parked
 *       record keeps its value, a request that passed validation, at most 16 KiB). If even that
 *       fails permanently, the worker gives up on the copy, logs it and counts it in
 *       {@code erasure_republish_given_up_total}; the audit row stands.</li>
 * </ul>
 *
 * <p>Provenance is written by the worker only: on the request topic every incoming header is
 * ignored and the true coordinates are written; on the retry topic (which only the worker and
 * {@code dlq replay} may write) the first origin is carried over when its headers are valid.
 */
final class Republisher {
    private static final Logger log = LoggerFactory.getLogger(Republisher.class);
    static final int KEEP_KEY_BYTES = 1024;

    private final Producer<byte[], byte[]> producer;
    private final String dlqTopic;
    private final String retryTopic;
    private final String verifyTopic;
    private final String workerInstance;
    private final MeterRegistry meters;

    Republisher(Producer<byte[], byte[]> producer, String dlqTopic, String retryTopic, String workerInstance, MeterRegistry meters) {
        this(producer, dlqTopic, retryTopic, null, workerInstance, meters);
    }

    /** @param verifyTopic the verification topic, or null when verification is off */
    Republisher(Producer<byte[], byte[]> producer, String dlqTopic, String retryTopic, String verifyTopic, String workerInstance,
                MeterRegistry meters) {
        this.producer = producer;
        this.dlqTopic = dlqTopic;
        this.retryTopic = retryTopic;
        this.verifyTopic = verifyTopic;
        this.workerInstance = workerInstance;
        this.meters = meters;
        // present at 0 from the start, so increase() sees the first one
        for (String kind : List.of("dlq", "retry", "verify", "outcomes")) {
            cutCounter(kind);
            givenUpCounter(kind);
        }
        for (dev.cioerasure.request.Rejection.Code c : dev.cioerasure.request.Rejection.Code.values()) {
            dlqCounter(c.name());
        }
        for (String verdict : List.of("PERMANENT_FAILURE", "UNAUTHORIZED", "RETRIES_EXHAUSTED")) {
            dlqCounter(verdict);
        }
    }

    CompletableFuture<Void> deadLetter(ConsumerRecord<byte[], byte[]> original, String reasonCode, String reason, String requestId) {
        List<Header> h = provenance(original, reasonCode, reason, requestId);
        dlqCounter(reasonCode).increment();
        return publish(new Copy(dlqTopic, "dlq", original, h, false));
    }

    CompletableFuture<Void> park(ConsumerRecord<byte[], byte[]> original, int round, Instant notBefore, String reason, String requestId) {
        return park(original, "RETRIES_EXHAUSTED", round, 0, notBefore, reason, requestId);
    }

    /**
     * Parks a request that waits only for paused workspaces: it keeps its retry round, and
     * counts the pauses in a row ({@code pauses}, from 1) so the wait between looks can grow.
     */
    CompletableFuture<Void> parkWhilePaused(ConsumerRecord<byte[], byte[]> original, int round, int pauses, Instant notBefore, String reason,
                                            String requestId) {
        return park(original, "WORKSPACE_PAUSED", round, pauses, notBefore, reason, requestId);
    }

    private CompletableFuture<Void> park(ConsumerRecord<byte[], byte[]> original, String reasonCode, int round, int pauses, Instant notBefore,
                                         String reason, String requestId) {
        List<Header> h = provenance(original, reasonCode, reason, requestId);
        put(h, RETRY_ROUND, Integer.toString(round));
        if (pauses > 0) {
            put(h, TopicHeaders.PAUSES, Integer.toString(pauses));
        }
        put(h, NOT_BEFORE, Long.toString(notBefore.toEpochMilli()));
        if (isReplay(original)) {
            put(h, REPLAY, TopicHeaders.valid(original.headers(), REPLAY).orElseThrow());
        }
        return publish(new Copy(retryTopic, "retry", original, h, true));
    }

    /**
     * Puts a completed request on the verification topic for its next check (the first one, or
     * the next after a check that found the person still there or got no answer). The record
     * keeps its value (the validated request: the check needs the identifier).
     *
     * @param checks     checks made so far
     * @param last       what the last check learnt: present, error, or none
     * @param lastStatus the last check's status tag, or null
     */
    CompletableFuture<Void> verifyLater(ConsumerRecord<byte[], byte[]> original, String requestId, String workspace, int checks,
                                        Instant notBefore, Instant deadline, String last, String lastStatus) {
        List<Header> h = provenance(original, "VERIFY", "verify that the person is gone", requestId);
        if (workspace != null) {
            put(h, TopicHeaders.VERIFY_WORKSPACE, workspace);
        }
        put(h, NOT_BEFORE, Long.toString(notBefore.toEpochMilli()));
        put(h, TopicHeaders.VERIFY_CHECKS, Integer.toString(checks));
        put(h, TopicHeaders.VERIFY_DEADLINE, Long.toString(deadline.toEpochMilli()));
        put(h, TopicHeaders.VERIFY_LAST, last);
        if (lastStatus != null) {
            put(h, TopicHeaders.VERIFY_LAST_STATUS, lastStatus);
        }
        return publish(new Copy(verifyTopic, "verify", original, h, true));
    }

    /** Provenance headers, from the worker's own knowledge; only the retry and verification topics' are carried over (validated). */
    private List<Header> provenance(ConsumerRecord<byte[], byte[]> original, String reasonCode, String reason, String requestId) {
        List<Header> h = new ArrayList<>();
        put(h, REASON_CODE, reasonCode);
        put(h, REASON, reason);
        if (requestId != null) {
            put(h, REQUEST_ID, requestId);
        }
        TopicHeaders.Origin first = fromRetryTopic(original) || fromVerifyTopic(original)
                ? TopicHeaders.Origin.of(original.headers()).orElse(null) : null;
        if (first == null) {
            first = new TopicHeaders.Origin(original.topic(), original.partition(), original.offset(), original.timestamp());
        }
        h.addAll(TopicHeaders.origin(first));
        put(h, WORKER, workerInstance);
        return h;
    }

    private boolean fromRetryTopic(ConsumerRecord<byte[], byte[]> rec) {
        return retryTopic.equals(rec.topic());
    }

    /** A request the worker parked itself after admitting it: on the retry topic, not put there by {@code dlq replay}. */
    boolean parkedByTheWorker(ConsumerRecord<byte[], byte[]> rec) {
        return fromRetryTopic(rec) && !isReplay(rec);
    }

    private boolean fromVerifyTopic(ConsumerRecord<byte[], byte[]> rec) {
        return verifyTopic != null && verifyTopic.equals(rec.topic());
    }

    /** One record to move: where, what, and whether its value must be kept even in a cut copy. */
    private record Copy(String topic, String kind, ConsumerRecord<byte[], byte[]> original, List<Header> headers, boolean keepValue) {
        String where() {
            return original.topic() + "-" + original.partition() + "@" + original.offset();
        }
    }

    private CompletableFuture<Void> publish(Copy copy) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        ProducerRecord<byte[], byte[]> whole = new ProducerRecord<>(copy.topic(), null, copy.original().key(), copy.original().value(),
                copy.headers());
        send(copy, whole, false, done);
        return done;
    }

    private void send(Copy copy, ProducerRecord<byte[], byte[]> rec, boolean isCut, CompletableFuture<Void> done) {
        sendUntilAcked(rec, copy.where(), done, error -> {
            if (!isCut) {
                log.warn("{} cannot take the copy of {} ({}: {}); sending a cut copy instead", rec.topic(), copy.where(),
                        error.getClass().getSimpleName(), safeMessage(error));
                cutCounter(copy.kind()).increment();
                send(copy, cut(copy), true, done);
            } else {
                log.error("{} refuses even the cut copy of {} ({}: {}); giving up on it: the audit row stands,"
                                + " the record is not on {}", rec.topic(), copy.where(), error.getClass().getSimpleName(),
                        safeMessage(error), rec.topic());
                givenUpCounter(copy.kind()).increment();
                done.complete(null);
            }
        });
    }

    /**
     * Sends a record once: the answer is null once Kafka acknowledged it, else Kafka's error. Fails
     * when the producer is closed (shutdown).
     */
    CompletableFuture<Throwable> sendOnce(ProducerRecord<byte[], byte[]> rec) {
        CompletableFuture<Throwable> answer = new CompletableFuture<>();
        try {
            producer.send(rec, (meta, error) -> answer.complete(error));
        } catch (RuntimeException e) {
            answer.completeExceptionally(e);
        }
        return answer;
    }

    /**
     * Sends a record until Kafka acknowledges it: a transient error (broker down, leader moving,
     * timeout) is retried with backoff, a permanent one ({@link #isPermanent}) is handed to
     * {@code onPermanent}, which must complete {@code done}. On shutdown (producer closed)
     * {@code done} fails, so the offset is not committed and the record is redone.
     *
     * @param what the record, for the log (no personal data)
     */
    void sendUntilAcked(ProducerRecord<byte[], byte[]> rec, String what, CompletableFuture<Void> done,
                        java.util.function.Consumer<Throwable> onPermanent) {
        sendUntilAcked(rec, what, done, onPermanent, 0);
    }

    private void sendUntilAcked(ProducerRecord<byte[], byte[]> rec, String what, CompletableFuture<Void> done,
                                java.util.function.Consumer<Throwable> onPermanent, int attempt) {
        try {
            producer.send(rec, (meta, error) -> {
                if (error == null) {
                    done.complete(null);
                } else if (!isPermanent(error)) {
                    // Kafka's message says what is wrong, e.g. "Topic … not present in metadata" for a deleted topic
                    log.warn("publish to {} for {} failed ({}: {}); retrying", rec.topic(), what, error.getClass().getSimpleName(),
                            safeMessage(error));
                    Executor later = CompletableFuture.delayedExecutor(Math.min(30, 1L << Math.min(attempt, 5)), TimeUnit.SECONDS);
                    later.execute(() -> sendUntilAcked(rec, what, done, onPermanent, attempt + 1));
                } else {
                    onPermanent.accept(error);
                }
            });
        } catch (RuntimeException e) {
            // producer closed (shutdown): the offset is not committed and the record is redone
            done.completeExceptionally(e);
        }
    }

    /** The copy that fits: key replaced by its hash when large, value dropped unless it must be kept. */
    private static ProducerRecord<byte[], byte[]> cut(Copy copy) {
        byte[] key = copy.original().key();
        byte[] value = copy.original().value();
        List<Header> h = new ArrayList<>(copy.headers());
        List<String> cut = new ArrayList<>(2);
        byte[] newKey = key;
        if (key != null && key.length > KEEP_KEY_BYTES) {
            newKey = Digests.sha256Hex(key).getBytes(StandardCharsets.UTF_8);
            cut.add("key");
        }
        byte[] newValue = value;
        if (value != null && !copy.keepValue()) {
            newValue = null;
            cut.add("value");
        }
        if (!cut.isEmpty()) {
            put(h, CUT, String.join(",", cut));
        }
        if (key != null) {
            put(h, ORIGINAL_KEY_SIZE, Integer.toString(key.length));
            put(h, ORIGINAL_KEY_SHA256, Digests.sha256Hex(key));
        }
        if (value != null) {
            put(h, ORIGINAL_VALUE_SIZE, Integer.toString(value.length));
            put(h, ORIGINAL_VALUE_SHA256, Digests.sha256Hex(value));
        }
        return new ProducerRecord<>(copy.topic(), null, newKey, newValue, h);
    }

    /**
     * Errors that the same record will meet again however often it is sent. Everything else
     * (timeouts, leader changes, a broker down) is transient and retried.
     */
    static boolean isPermanent(Throwable e) {
        return e instanceof RecordTooLargeException || e instanceof RecordBatchTooLargeException
                || e instanceof org.apache.kafka.common.InvalidRecordException
                || e instanceof AuthorizationException || e instanceof InvalidTopicException
                || e instanceof PolicyViolationException || e instanceof SerializationException;
    }

    private Counter dlqCounter(String reasonCode) {
        return Counter.builder(MetricNames.DLQ).description("Records sent to the dead-letter topic")
                .tag("reason", reasonCode).register(meters);
    }

    Counter givenUpCounter(String kind) {
        return Counter.builder(MetricNames.REPUBLISH_GIVEN_UP)
                .description("Records that could not be copied to the DLQ or retry topic at all (permanent error; the log names it)")
                .tag("topic", kind).register(meters);
    }

    private Counter cutCounter(String kind) {
        return Counter.builder(MetricNames.REPUBLISH_CUT)
                .description("Records copied to the DLQ or retry topic as a cut copy (too large or refused whole)")
                .tag("topic", kind).register(meters);
    }

    /**
     * Kafka's messages name sizes and limits, never record contents; cut to one line anyway, and
     * without what a terminal would act on or hide: every control character (C1 too, such as the
     * one-byte CSI U+009B, which {@code \p{Cntrl}}, ASCII only, let through), format character and
     * line or paragraph separator becomes a space.
     */
    static String safeMessage(Throwable e) {
        String m = e.getMessage();
        if (m == null) {
            return "";
        }
        m = m.replaceAll("[\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]", " ");
        return m.length() > 200 ? m.substring(0, 200) + "…" : m;
    }

    private static void put(List<Header> h, String key, String value) {
        h.add(TopicHeaders.Written.of(key, value));
    }


    /** The retry round of a record: 0 unless it is a valid retry-topic record. */
    int round(ConsumerRecord<byte[], byte[]> rec) {
        return retryCount(rec, RETRY_ROUND);
    }

    /** How many times in a row a retry-topic record was parked for paused workspaces only; 0 for any other record. */
    int pauses(ConsumerRecord<byte[], byte[]> rec) {
        return retryCount(rec, TopicHeaders.PAUSES);
    }

    /** A count the worker put on a retry-topic record; 0 on any other record, or when absent or malformed. */
    private int retryCount(ConsumerRecord<byte[], byte[]> rec, String header) {
        return fromRetryTopic(rec) ? TopicHeaders.valid(rec.headers(), header).map(Integer::parseInt).orElse(0) : 0;
    }

    /** When a parked record becomes due; {@link Instant#EPOCH} (now) when it carries no valid time or is not one. */
    Instant notBefore(ConsumerRecord<byte[], byte[]> rec) {
        if (!fromRetryTopic(rec) && !fromVerifyTopic(rec)) {
            return Instant.EPOCH;
        }
        return TopicHeaders.valid(rec.headers(), NOT_BEFORE).map(v -> Instant.ofEpochMilli(Long.parseLong(v))).orElse(Instant.EPOCH);
    }

    /** A replay by {@code dlq replay}: only on the retry topic, with a valid marker. */
    boolean isReplay(ConsumerRecord<byte[], byte[]> rec) {
        return fromRetryTopic(rec) && TopicHeaders.valid(rec.headers(), REPLAY).isPresent();
    }
}
