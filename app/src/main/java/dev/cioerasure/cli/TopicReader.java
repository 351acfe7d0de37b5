package dev.cioerasure.cli;

import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.preflight.Preflight;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/** Reads a whole topic, from the beginning to the end offsets seen at the start, without joining a group. */
final class TopicReader {
    private TopicReader() { }

    static void readAll(Settings.Kafka k, String topic, Consumer<ConsumerRecord<byte[], byte[]>> each) {
        readAll(k, topic, () -> { }, each);
    }

    /**
     * The same, running {@code reachable} once Kafka has answered and the topic may be read, before
     * the first record: a listing prints its header there, not above a line saying Kafka did not answer.
     */
    static void readAll(Settings.Kafka k, String topic, Runnable reachable, Consumer<ConsumerRecord<byte[], byte[]>> each) {
        // a principal without Read: one line naming the ACL (exit 78), not the consumer's exception (70)
        Preflight.kafka(k, Duration.ofSeconds(15), Map.of(topic, java.util.Set.of(org.apache.kafka.common.acl.AclOperation.READ)),
                "ERASURE_TOPIC");
        reachable.run();
        try (org.apache.kafka.clients.consumer.Consumer<byte[], byte[]> c = new KafkaClients(k).consumer("cio-erasure-reader", Map.of())) {
            var infos = c.partitionsFor(topic, Duration.ofSeconds(15));
            if (infos == null || infos.isEmpty()) {
                throw new Errors.UserError("topic " + topic + " does not exist (or is not visible to this client)", 1);
            }
            List<TopicPartition> parts = infos.stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(15));
            while (parts.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(15)) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition()))) {
                        each.accept(r);
                    }
                }
            }
        }
    }
}
