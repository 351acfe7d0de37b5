package dev.cioerasure.worker;

import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a record, unchanged (key and value), to the dead-letter topic or to the retry topic, with
 * why and where it came from in headers. The future completes when Kafka has acknowledged it; a
 * failed send is retried until it succeeds, so a record is never dropped between two topics.
 * Headers carry no personal data.
 */
final class Republisher {
    private static final Logger log = LoggerFactory.getLogger(Republisher.class);

    static final String REASON_CODE = TopicHeaders.REASON_CODE;
    static final String REASON = TopicHeaders.REASON;
    static final String REQUEST_ID = TopicHeaders.REQUEST_ID;
    static final String ORIGINAL_TOPIC = TopicHeaders.ORIGINAL_TOPIC;
    static final String ORIGINAL_PARTITION = TopicHeaders.ORIGINAL_PARTITION;
    static final String ORIGINAL_OFFSET = TopicHeaders.ORIGINAL_OFFSET;
    static final String ORIGINAL_TIMESTAMP = TopicHeaders.ORIGINAL_TIMESTAMP;
    static final String WORKER = TopicHeaders.WORKER;
    static final String RETRY_ROUND = TopicHeaders.RETRY_ROUND;
    static final String NOT_BEFORE = TopicHeaders.NOT_BEFORE;
    static final String REPLAY = TopicHeaders.REPLAY;

    private final Producer<byte[], byte[]> producer;
    private final String dlqTopic;
    private final String retryTopic;
    private final String workerInstance;
    private final MeterRegistry meters;

    Republisher(Producer<byte[], byte[]> producer, String dlqTopic, String retryTopic, String workerInstance, MeterRegistry meters) {
        this.producer = producer;
        this.dlqTopic = dlqTopic;
        this.retryTopic = retryTopic;
        this.workerInstance = workerInstance;
        this.meters = meters;
    }

    CompletableFuture<Void> deadLetter(ConsumerRecord<byte[], byte[]> original, String reasonCode, String reason, String requestId) {
        Headers h = provenance(original, reasonCode, reason, requestId);
        Counter.builder(MetricNames.DLQ).description("Records sent to the dead-letter topic")
                .tag("reason", reasonCode).register(meters).increment();
        return publish(new ProducerRecord<>(dlqTopic, null, original.key(), original.value(), h));
    }

    CompletableFuture<Void> park(ConsumerRecord<byte[], byte[]> original, int round, Instant notBefore, String reason, String requestId) {
        Headers h = provenance(original, "RETRIES_EXHAUSTED", reason, requestId);
        put(h, RETRY_ROUND, Integer.toString(round));
        put(h, NOT_BEFORE, Long.toString(notBefore.toEpochMilli()));
        copy(original, h, REPLAY);
        return publish(new ProducerRecord<>(retryTopic, null, original.key(), original.value(), h));
    }

    /** Provenance headers; a record that was already moved keeps its first origin. */
    private Headers provenance(ConsumerRecord<byte[], byte[]> original, String reasonCode, String reason, String requestId) {
        Headers h = new RecordHeaders();
        put(h, REASON_CODE, reasonCode);
        put(h, REASON, reason);
        if (requestId != null) {
            put(h, REQUEST_ID, requestId);
        }
        if (original.headers().lastHeader(ORIGINAL_TOPIC) != null) {
            for (String k : new String[] {ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, ORIGINAL_TIMESTAMP}) {
                copy(original, h, k);
            }
        } else {
            put(h, ORIGINAL_TOPIC, original.topic());
            put(h, ORIGINAL_PARTITION, Integer.toString(original.partition()));
            put(h, ORIGINAL_OFFSET, Long.toString(original.offset()));
            put(h, ORIGINAL_TIMESTAMP, Long.toString(original.timestamp()));
        }
        put(h, WORKER, workerInstance);
        return h;
    }

    private CompletableFuture<Void> publish(ProducerRecord<byte[], byte[]> rec) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        sendUntilAcknowledged(rec, done, 0);
        return done;
    }

    private void sendUntilAcknowledged(ProducerRecord<byte[], byte[]> rec, CompletableFuture<Void> done, int attempt) {
        try {
            producer.send(rec, (meta, error) -> {
                if (error == null) {
                    done.complete(null);
                    return;
                }
                log.warn("publish to {} for {}-{}@{} failed ({}); retrying", rec.topic(),
                        TopicHeaders.value(rec.headers(), ORIGINAL_TOPIC), TopicHeaders.value(rec.headers(), ORIGINAL_PARTITION),
                        TopicHeaders.value(rec.headers(), ORIGINAL_OFFSET), error.getClass().getSimpleName());
                Executor later = CompletableFuture.delayedExecutor(Math.min(30, 1L << Math.min(attempt, 5)), TimeUnit.SECONDS);
                later.execute(() -> sendUntilAcknowledged(rec, done, attempt + 1));
            });
        } catch (RuntimeException e) {
            // producer closed (shutdown): the offset is not committed and the record is redone
            done.completeExceptionally(e);
        }
    }

    private static void put(Headers h, String key, String value) {
        h.add(key, value.getBytes(StandardCharsets.UTF_8));
    }

    private static void copy(ConsumerRecord<byte[], byte[]> from, Headers to, String key) {
        Header v = from.headers().lastHeader(key);
        if (v != null) {
            to.add(key, v.value());
        }
    }

    /** The retry round of a record: 0 for a record that was never parked. */
    static int round(ConsumerRecord<byte[], byte[]> rec) {
        String v = TopicHeaders.value(rec.headers(), RETRY_ROUND);
        try {
            return v == null ? 0 : Math.max(0, Integer.parseInt(v));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** When a parked record becomes due; {@link Instant#EPOCH} when it carries no time. */
    static Instant notBefore(ConsumerRecord<byte[], byte[]> rec) {
        String v = TopicHeaders.value(rec.headers(), NOT_BEFORE);
        try {
            return v == null ? Instant.EPOCH : Instant.ofEpochMilli(Long.parseLong(v));
        } catch (NumberFormatException e) {
            return Instant.EPOCH;
        }
    }

    static boolean isReplay(ConsumerRecord<byte[], byte[]> rec) {
        return rec.headers().lastHeader(REPLAY) != null;
    }
}
