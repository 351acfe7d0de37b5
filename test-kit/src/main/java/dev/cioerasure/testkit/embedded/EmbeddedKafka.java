package dev.cioerasure.testkit.embedded;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.test.JaasUtils;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node Kafka (KRaft, combined broker+controller) running in this JVM, from
 * {@code kafka-test-common-runtime}. For {@code demo}, benchmarks and integration tests.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private final KafkaClusterTestKit cluster;
    private final SecurityProtocol protocol;

    private EmbeddedKafka(KafkaClusterTestKit cluster, SecurityProtocol protocol) {
        this.cluster = cluster;
        this.protocol = protocol;
    }

    /** The user a SASL broker ({@link #startSasl}) knows, with all rights (PLAIN). */
    public static final String SASL_USER = JaasUtils.KAFKA_PLAIN_ADMIN;
    public static final String SASL_PASSWORD = JaasUtils.KAFKA_PLAIN_ADMIN_PASSWORD;

    /** A plaintext broker. */
    public static EmbeddedKafka start() throws Exception {
        return start(SecurityProtocol.PLAINTEXT);
    }

    /**
     * A broker whose listener requires SASL/PLAIN (user {@link #SASL_USER}) and whose authorizer
     * denies everyone else. The test kit registers its server login in the JVM-wide JAAS
     * configuration; clients pass their own {@code sasl.jaas.config}.
     */
    public static EmbeddedKafka startSasl() throws Exception {
        return start(SecurityProtocol.SASL_PLAINTEXT);
    }

    private static EmbeddedKafka start(SecurityProtocol protocol) throws Exception {
        KafkaClusterTestKit cluster = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                .setBrokerSecurityProtocol(protocol)
                .setControllerSecurityProtocol(protocol)
                .build())
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("auto.create.topics.enable", "false")
                .build();
        // The test kit narrates formatting on standard output ("Formatting metadata directory …");
        // a command's output must stay its own.
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            cluster.format();
            cluster.startup();
        } finally {
            System.setOut(out);
        }
        cluster.waitForReadyBrokers();
        return new EmbeddedKafka(cluster, protocol);
    }

    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    /** What a client needs besides the bootstrap servers: the SASL login on a SASL broker, nothing otherwise. */
    public Map<String, Object> clientProperties() {
        if (protocol != SecurityProtocol.SASL_PLAINTEXT) {
            return Map.of();
        }
        return Map.of("security.protocol", protocol.name, "sasl.mechanism", "PLAIN", "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + SASL_USER
                        + "\" password=\"" + SASL_PASSWORD + "\";");
    }

    /** Creates the topics (if missing) with the given number of partitions. */
    public void createTopics(int partitions, String... names) throws InterruptedException, ExecutionException {
        Map<String, Object> p = new java.util.HashMap<>(clientProperties());
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        try (Admin admin = Admin.create(p)) {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> missing = java.util.Arrays.stream(names)
                    .filter(n -> !existing.contains(n))
                    .map(n -> new NewTopic(n, partitions, (short) 1))
                    .toList();
            try {
                admin.createTopics(missing).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
        }
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}
