package dev.cioerasure.config;

import java.util.Map;
import java.util.TreeMap;

/**
 * What every Kafka client of this program adds to {@code bootstrap.servers}: the security
 * settings of a real cluster (TLS, SASL) and any other client property an operator passes.
 * Values of secret properties (passwords, JAAS configuration) are {@link Secret}s, so they show
 * only as {@code [hidden]}; the start-up line names properties, never values.
 *
 * @param properties client properties by Kafka name (e.g. {@code security.protocol})
 * @param secrets    client properties whose values are secret, by Kafka name
 */
public record KafkaClientConfig(Map<String, String> properties, Map<String, Secret> secrets) {
    /** A plaintext cluster with no extra properties. */
    public static final KafkaClientConfig NONE = new KafkaClientConfig(Map.of(), Map.of());

    public KafkaClientConfig {
        properties = Map.copyOf(properties);
        secrets = Map.copyOf(secrets);
    }

    /** All properties with secret values revealed: for a client's configuration only, never to print. */
    public Map<String, Object> revealed() {
        Map<String, Object> all = new TreeMap<>(properties);
        secrets.forEach((k, v) -> all.put(k, v.reveal()));
        return all;
    }

    /** Whether the clients join groups by Kafka's consumer group protocol (KIP-848), {@code group.protocol=consumer}. */
    public boolean consumerGroupProtocol() {
        return "consumer".equalsIgnoreCase(String.valueOf(revealed().get("group.protocol")).trim());
    }

    /** For the start-up line: the protocol and mechanism, then the other property names (never values). */
    public String describe() {
        StringBuilder b = new StringBuilder(properties.getOrDefault("security.protocol", "PLAINTEXT"));
        if (properties.containsKey("sasl.mechanism")) {
            b.append(" (").append(properties.get("sasl.mechanism")).append(')');
        }
        TreeMap<String, String> others = new TreeMap<>();
        properties.keySet().forEach(k -> others.put(k, "set"));
        secrets.forEach((k, v) -> others.put(k, "[hidden] (" + v.origin() + ")"));
        others.remove("security.protocol");
        others.remove("sasl.mechanism");
        if (!others.isEmpty()) {
            b.append(", client properties ").append(others);
        }
        return b.toString();
    }
}
