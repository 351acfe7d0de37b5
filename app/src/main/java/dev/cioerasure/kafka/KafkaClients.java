package dev.cioerasure.kafka;

import dev.cioerasure.config.Settings;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The one place Kafka clients are made: every consumer, producer and admin client of this
 * program gets the bootstrap servers and the cluster's security settings (TLS, SASL, any client
 * property the operator passed, see {@link dev.cioerasure.config.KafkaClientConfig}) from here.
 *
 * <p>Producers always wait for all in-sync replicas and are idempotent (a request is never lost
 * or doubled by a retried send); consumers never commit on their own (offsets are committed
 * only after the audit row is durable). Callers add only tuning.
 */
public final class KafkaClients {
    private final Settings.Kafka kafka;

    public KafkaClients(Settings.Kafka kafka) {
        this.kafka = kafka;
    }

    public Settings.Kafka settings() {
        return kafka;
    }

    /** Bootstrap servers and security settings: what every client starts from. */
    public Map<String, Object> common(String clientId) {
        Map<String, Object> p = new HashMap<>(kafka.client().revealed());
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(CommonClientConfigs.CLIENT_ID_CONFIG, clientId);
        return p;
    }

    /** An admin client whose calls give up after {@code timeout}. */
    public Admin admin(String clientId, Duration timeout) {
        Map<String, Object> p = common(clientId);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        return Admin.create(p);
    }

    /** The configuration of {@link #producer}: acks=all, idempotent, byte arrays; then {@code tuning}. */
    public Map<String, Object> producerConfig(String clientId, Map<String, Object> tuning) {
        Map<String, Object> p = common(clientId);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.putAll(tuning);
        return p;
    }

    public Producer<byte[], byte[]> producer(String clientId, Map<String, Object> tuning) {
        return new KafkaProducer<>(producerConfig(clientId, tuning));
    }

    /**
     * The configuration of {@link #consumer}: no auto-commit, byte arrays, committed records only;
     * then {@code tuning} (e.g. the group). Kafka's default (read_uncommitted) hands out the records
     * of a transaction its producer then aborts: the worker erased the people named in a request
     * that was never made, and an erasure cannot be undone.
     */
    public Map<String, Object> consumerConfig(String clientId, Map<String, Object> tuning) {
        Map<String, Object> p = common(clientId);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.putAll(tuning);
        return p;
    }

    public Consumer<byte[], byte[]> consumer(String clientId, Map<String, Object> tuning) {
        return new KafkaConsumer<>(consumerConfig(clientId, tuning));
    }
}
