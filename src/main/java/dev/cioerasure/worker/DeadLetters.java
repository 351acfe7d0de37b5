package dev.cioerasure.worker;

import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a record to the dead-letter topic unchanged (value and key), with why and where it
 * came from in headers. The future completes when Kafka has acknowledged it; a failed send is
 * retried until it succeeds, so a record is never dropped between the two topics.
 */
final class DeadLetters {
    private static final Logger log = LoggerFactory.getLogger(DeadLetters.class);

    static final String REASON_CODE = "x-erasure-reason-code";
    static final String REASON = "x-erasure-reason";
    static final String REQUEST_ID = "x-erasure-request-id";
    static final String ORIGINAL_TOPIC = "x-original-topic";
    static final String ORIGINAL_PARTITION = "x-original-partition";
    static final String ORIGINAL_OFFSET = "x-original-offset";
    static final String ORIGINAL_TIMESTAMP = "x-original-timestamp";
    static final String WORKER = "x-worker-instance";

    private final Producer<byte[], byte[]> producer;
    private final String topic;
    private final String workerInstance;
    private final MeterRegistry meters;

    DeadLetters(Producer<byte[], byte[]> producer, String topic, String workerInstance, MeterRegistry meters) {
        this.producer = producer;
        this.topic = topic;
        this.workerInstance = workerInstance;
        this.meters = meters;
    }

    CompletableFuture<Void> send(ConsumerRecord<byte[], byte[]> original, String reasonCode, String reason, String requestId) {
        Headers h = new RecordHeaders();
        put(h, REASON_CODE, reasonCode);
        put(h, REASON, reason);
        if (requestId != null) {
            put(h, REQUEST_ID, requestId);
        }
        put(h, ORIGINAL_TOPIC, original.topic());
        put(h, ORIGINAL_PARTITION, Integer.toString(original.partition()));
        put(h, ORIGINAL_OFFSET, Long.toString(original.offset()));
        put(h, ORIGINAL_TIMESTAMP, Long.toString(original.timestamp()));
        put(h, WORKER, workerInstance);
        ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(topic, null, original.key(), original.value(), h);
        CompletableFuture<Void> done = new CompletableFuture<>();
        sendUntilAcknowledged(rec, done, 0);
        Counter.builder(MetricNames.DLQ).description("Records sent to the dead-letter topic")
                .tag("reason", reasonCode).register(meters).increment();
        return done;
    }

    private void sendUntilAcknowledged(ProducerRecord<byte[], byte[]> rec, CompletableFuture<Void> done, int attempt) {
        try {
            producer.send(rec, (meta, error) -> {
                if (error == null) {
                    done.complete(null);
                    return;
                }
                log.warn("dead-letter publish for {}-{}@{} failed ({}); retrying",
                        header(rec, ORIGINAL_TOPIC), header(rec, ORIGINAL_PARTITION), header(rec, ORIGINAL_OFFSET),
                        error.getClass().getSimpleName());
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

    private static String header(ProducerRecord<byte[], byte[]> rec, String key) {
        var v = rec.headers().lastHeader(key);
        return v == null ? "?" : new String(v.value(), StandardCharsets.UTF_8);
    }
}
