package dev.cioerasure.worker;

import dev.cioerasure.kafka.TopicHeaders;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/** How a record is moved when Kafka refuses the copy: for good (cut, then given up), or for now (retried). */
class RepublisherTest {
    private final MockProducer<byte[], byte[]> producer = new MockProducer<>(false, null, new ByteArraySerializer(), new ByteArraySerializer());
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final Republisher republisher = new Republisher(producer, "t.dlq", "t.retry", "w1", meters);

    private static ConsumerRecord<byte[], byte[]> original(String topic) {
        ConsumerRecord<byte[], byte[]> r = new ConsumerRecord<>(topic, 2, 41, "key".getBytes(StandardCharsets.UTF_8),
                "{\"not\":\"valid\"}".getBytes(StandardCharsets.UTF_8));
        r.headers().add(new RecordHeader(TopicHeaders.ORIGINAL_OFFSET, "999".getBytes(StandardCharsets.UTF_8)));
        return r;
    }

    private ProducerRecord<byte[], byte[]> sent(int i) {
        return producer.history().get(i);
    }

    @Test
    void aCopyRefusedForGoodIsSentCutAndThenGivenUpNeverRetriedForever() throws Exception {
        CompletableFuture<Void> done = republisher.deadLetter(original("t"), "MALFORMED_JSON", "MALFORMED_JSON: not valid JSON", null);
        assertThat(producer.errorNext(new RecordTooLargeException("too large"))).isTrue();
        assertThat(done).isNotDone();
        // the cut copy: no value, the original's size and SHA-256, the true coordinates
        ProducerRecord<byte[], byte[]> cut = sent(1);
        assertThat(cut.value()).isNull();
        assertThat(TopicHeaders.valid(cut.headers(), TopicHeaders.CUT)).contains("value");
        assertThat(TopicHeaders.valid(cut.headers(), TopicHeaders.ORIGINAL_VALUE_SIZE)).contains("15");
        assertThat(TopicHeaders.valid(cut.headers(), TopicHeaders.ORIGINAL_OFFSET)).as("not the producer's 999").contains("41");
        assertThat(producer.errorNext(new TopicAuthorizationException("no ACL"))).isTrue();
        done.get(1, TimeUnit.SECONDS);
        assertThat(producer.history()).hasSize(2);
        assertThat(meters.get("erasure.republish.given.up").tag("topic", "dlq").counter().count()).isEqualTo(1);
        assertThat(meters.get("erasure.republish.cut").tag("topic", "dlq").counter().count()).isEqualTo(1);
    }

    @Test
    void aTransientFailureIsRetriedUntilKafkaTakesTheCopy() throws Exception {
        CompletableFuture<Void> done = republisher.park(original("t"), 1, Instant.ofEpochMilli(5), "http 503", "r-1");
        assertThat(producer.errorNext(new TimeoutException("broker away"))).isTrue();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (producer.history().size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(producer.history()).as("sent again, whole").hasSize(2);
        assertThat(sent(1).value()).isEqualTo(sent(0).value());
        assertThat(producer.completeNext()).isTrue();
        done.get(1, TimeUnit.SECONDS);
        assertThat(TopicHeaders.valid(sent(1).headers(), TopicHeaders.RETRY_ROUND)).contains("1");
        assertThat(meters.get("erasure.republish.given.up").tag("topic", "retry").counter().count()).isZero();
    }

    @Test
    void retryHeadersCountOnlyOnTheRetryTopic() {
        ConsumerRecord<byte[], byte[]> onRequests = original("t");
        onRequests.headers().add(new RecordHeader(TopicHeaders.RETRY_ROUND, "7".getBytes(StandardCharsets.UTF_8)));
        onRequests.headers().add(new RecordHeader(TopicHeaders.REPLAY, "t.dlq-0@1".getBytes(StandardCharsets.UTF_8)));
        assertThat(republisher.round(onRequests)).isZero();
        assertThat(republisher.isReplay(onRequests)).isFalse();
        ConsumerRecord<byte[], byte[]> onRetry = original("t.retry");
        onRetry.headers().add(new RecordHeader(TopicHeaders.RETRY_ROUND, "7".getBytes(StandardCharsets.UTF_8)));
        onRetry.headers().add(new RecordHeader(TopicHeaders.REPLAY, "t.dlq-0@1".getBytes(StandardCharsets.UTF_8)));
        assertThat(republisher.round(onRetry)).isEqualTo(7);
        assertThat(republisher.isReplay(onRetry)).isTrue();
        onRetry.headers().add(new RecordHeader(TopicHeaders.RETRY_ROUND, "-1; DROP".getBytes(StandardCharsets.UTF_8)));
        assertThat(republisher.round(onRetry)).as("malformed: not trusted").isZero();
    }

    @Test
    void aKafkaMessageIsLoggedOnOneLineWithoutWhatATerminalActsOnOrHides() {
        String m = Republisher.safeMessage(new org.apache.kafka.common.errors.RecordTooLargeException(
                "topic\u009b2J x\u001b[31m y\u202ez\u2028w\nv\udb40\udc41u"));
        assertThat(m).isEqualTo("topic 2J x [31m y z w v u");
    }
}
