package dev.cioerasure.config;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;

/**
 * Checks a client property's value as Kafka will when a client is made: its type, and the rule
 * of each client kind that knows the property (every client gets every property). A bad value
 * was found only when a command made its first client past the preflight, and ended it with exit
 * 70 and Kafka's exception, which quotes the value (a secret, perhaps). Names Kafka does not
 * know are left alone: a plugin (a login callback, an SSL engine factory) may read them.
 */
final class KafkaClientValues {
    private static final List<ConfigDef> CLIENTS = List.of(ConsumerConfig.configDef(), ProducerConfig.configDef(),
            AdminClientConfig.configDef());

    private KafkaClientValues() { }

    /** Why Kafka would refuse {@code value} for {@code property}, without quoting it; empty when it would not. */
    static Optional<String> problem(String property, String value) {
        for (ConfigDef def : CLIENTS) {
            ConfigDef.ConfigKey key = def.configKeys().get(property);
            if (key == null) {
                continue;
            }
            try {
                Object parsed = ConfigDef.parseType(property, value, key.type);
                if (key.validator != null) {
                    key.validator.ensureValid(property, parsed);
                }
            } catch (ConfigException | IllegalArgumentException e) {
                String type = key.type.name().toLowerCase(Locale.ROOT);
                return Optional.of("not a valid value for " + property + " (" + (key.type == ConfigDef.Type.CLASS
                        ? "a class on the class path" : type) + (key.validator == null ? "" : ", " + key.validator) + ")");
            }
        }
        return Optional.empty();
    }

    /**
     * Why Kafka would refuse the properties together, as a client of each kind is made with them
     * and with what the program sets itself (an idempotent producer; a consumer in a group):
     * {@code session.timeout.ms} with {@code group.protocol=consumer}, or
     * {@code max.in.flight.requests.per.connection} above 5 with idempotence, passed one by one and
     * ended the worker with exit 70 ({@code failed: ConfigException}) once it made its consumer.
     * Kafka's message names properties; a value in it that is one of {@code secretValues} is hidden.
     */
    static Optional<String> together(java.util.Map<String, Object> properties, java.util.Collection<String> secretValues) {
        java.util.Map<String, Object> common = new java.util.HashMap<>(properties);
        common.put("bootstrap.servers", "localhost:9092");
        String bytes = "org.apache.kafka.common.serialization.ByteArray";
        try {
            new ConsumerConfig(with(common, ConsumerConfig.GROUP_ID_CONFIG, "cio-erasure", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                    ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, bytes + "Deserializer",
                    ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, bytes + "Deserializer"));
            new ProducerConfig(with(common, ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, bytes + "Serializer",
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, bytes + "Serializer"));
            new AdminClientConfig(common);
            return Optional.empty();
        } catch (ConfigException | IllegalArgumentException e) {
            String why = String.valueOf(e.getMessage());
            for (String secret : secretValues) {
                if (secret != null && !secret.isBlank()) {
                    why = why.replace(secret, "[hidden]");
                }
            }
            return Optional.of(why);
        }
    }

    /** The properties, and what cio-erasure sets for a client of one kind (name, value, ...). */
    private static java.util.Map<String, Object> with(java.util.Map<String, Object> properties, Object... ownSettings) {
        java.util.Map<String, Object> all = new java.util.HashMap<>(properties);
        for (int i = 0; i < ownSettings.length; i += 2) {
            all.put((String) ownSettings[i], ownSettings[i + 1]);
        }
        return all;
    }
}
