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
}
