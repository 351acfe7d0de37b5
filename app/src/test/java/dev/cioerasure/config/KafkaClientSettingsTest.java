package dev.cioerasure.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.kafka.KafkaClients;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KAFKA_* security settings as docs/operations.md ("Connecting to a secured Kafka") states them. */
class KafkaClientSettingsTest {
    @TempDir
    Path dir;

    private static Map<String, String> env(String... pairs) {
        Map<String, String> env = new HashMap<>(Map.of("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"));
        for (int i = 0; i < pairs.length; i += 2) {
            env.put(pairs[i], pairs[i + 1]);
        }
        return env;
    }

    private static Settings.Kafka load(Map<String, String> env) {
        return SettingsLoader.load(env, EnumSet.of(SettingsLoader.Part.KAFKA)).kafka();
    }

    @Test
    void scramOverTlsBuildsTheJaasLineFromAPasswordFileAndFollowsItsRotation() throws Exception {
        Path pw = Files.writeString(dir.resolve("pw"), "s3cr\"et\\pw\n");
        Path ca = Files.writeString(dir.resolve("ca.pem"), "-----BEGIN CERTIFICATE-----\n");
        Settings.Kafka k = load(env("KAFKA_SECURITY_PROTOCOL", "sasl_ssl", "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME", "cio-erasure", "KAFKA_SASL_PASSWORD_FILE", pw.toString(),
                "KAFKA_SSL_TRUSTSTORE_LOCATION", ca.toString(), "KAFKA_SSL_TRUSTSTORE_TYPE", "PEM"));
        Map<String, Object> props = new KafkaClients(k).producerConfig("p", Map.of());
        assertThat(props).containsEntry("security.protocol", "SASL_SSL").containsEntry("sasl.mechanism", "SCRAM-SHA-512")
                .containsEntry("ssl.truststore.location", ca.toString()).containsEntry("ssl.truststore.type", "PEM")
                .containsEntry("bootstrap.servers", "kafka:9092").containsEntry("acks", "all");
        assertThat(props.get("sasl.jaas.config")).isEqualTo("org.apache.kafka.common.security.scram.ScramLoginModule required"
                + " username=\"cio-erasure\" password=\"s3cr\\\"et\\\\pw\";");
        String shown = k.client().describe() + new Settings(k, null, null, null, null, java.util.List.of()).describe();
        assertThat(shown).contains("SASL_SSL (SCRAM-SHA-512)", "sasl.jaas.config=[hidden] (file " + pw).doesNotContain("s3cr");

        Files.writeString(pw, "rotated\n");
        Files.setLastModifiedTime(pw, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
        assertThat(new KafkaClients(k).consumerConfig("c", Map.of()).get("sasl.jaas.config").toString()).contains("password=\"rotated\"");
    }

    /**
     * A value Kafka would refuse is a wrong setting named by its variable, and never quoted: it was
     * found only when a command made its first client past the preflight (dlq list: exit 70, with
     * Kafka's exception, which quotes it).
     */
    @Test
    void aClientPropertyValueKafkaWouldRefuseIsNamedByItsVariableWithoutQuotingIt() throws Exception {
        Path file = Files.writeString(dir.resolve("client.properties"), "ssl.engine.factory.class=no.such.Factory-sEcReT\n");
        assertThatThrownBy(() -> load(env("KAFKA_CLIENT_REQUEST_TIMEOUT_MS", "abc-sEcReT",
                "KAFKA_CLIENT_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "https",
                "KAFKA_CLIENT_METADATA_RECOVERY_STRATEGY", "sometimes-sEcReT",
                "KAFKA_CLIENT_CONFIG_FILE", file.toString())))
                .hasMessageContainingAll(
                        "KAFKA_CLIENT_REQUEST_TIMEOUT_MS: not a valid value for request.timeout.ms (int",
                        "KAFKA_CLIENT_METADATA_RECOVERY_STRATEGY: not a valid value for metadata.recovery.strategy (string, ",
                        "KAFKA_CLIENT_CONFIG_FILE (ssl.engine.factory.class): not a valid value for ssl.engine.factory.class"
                                + " (a class on the class path)")
                .hasMessageNotContaining("sEcReT").hasMessageNotContaining("ENDPOINT");
        // valid values, and a name Kafka does not know (a plugin's), pass
        Settings.Kafka k = load(env("KAFKA_CLIENT_REQUEST_TIMEOUT_MS", "30000", "KAFKA_CLIENT_METADATA_RECOVERY_STRATEGY", "rebootstrap",
                "KAFKA_CLIENT_SOME_PLUGIN_OPTION", "x"));
        assertThat(new KafkaClients(k).common("x")).containsEntry("request.timeout.ms", "30000").containsEntry("some.plugin.option", "x");
    }

    /**
     * Properties each valid alone that Kafka refuses together: the worker ended with exit 70
     * ("failed: ConfigException: session.timeout.ms cannot be set when group.protocol=CONSUMER")
     * once it made its consumer, after waiting for Kafka.
     */
    @Test
    void clientPropertiesKafkaRefusesTogetherAreAWrongSettingNamingTheirVariables() throws Exception {
        assertThatThrownBy(() -> load(env("KAFKA_CLIENT_GROUP_PROTOCOL", "consumer", "KAFKA_CLIENT_SESSION_TIMEOUT_MS", "10000",
                "KAFKA_CLIENT_REQUEST_TIMEOUT_MS", "30000")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("KAFKA_CLIENT_GROUP_PROTOCOL, KAFKA_CLIENT_SESSION_TIMEOUT_MS: Kafka refuses these client properties"
                        + " together (session.timeout.ms cannot be set when group.protocol=CONSUMER)")
                .hasMessageNotContaining("REQUEST_TIMEOUT");
        // the producer is idempotent (set by cio-erasure): more than 5 requests in flight break its ordering
        Path file = Files.writeString(dir.resolve("client.properties"), "max.in.flight.requests.per.connection=6\n");
        assertThatThrownBy(() -> load(env("KAFKA_CLIENT_CONFIG_FILE", file.toString())))
                .hasMessageContaining("KAFKA_CLIENT_CONFIG_FILE (max.in.flight.requests.per.connection): Kafka refuses these client"
                        + " properties together (");
        // each alone, and the consumer protocol with what it allows, pass
        assertThat(load(env("KAFKA_CLIENT_GROUP_PROTOCOL", "consumer", "KAFKA_CLIENT_GROUP_REMOTE_ASSIGNOR", "uniform")).client()
                .consumerGroupProtocol()).isTrue();
        assertThat(load(env("KAFKA_CLIENT_SESSION_TIMEOUT_MS", "10000")).client().consumerGroupProtocol()).isFalse();
    }

    @Test
    void anyOtherClientPropertyComesFromAFileOrAPrefixedVariableAndIsShownHidden() throws Exception {
        Path file = Files.writeString(dir.resolve("client.properties"), "ssl.cipher.suites=TLS_AES_256_GCM_SHA384\n");
        Settings.Kafka k = load(env("KAFKA_CLIENT_CONFIG_FILE", file.toString(),
                "KAFKA_CLIENT_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "https"));
        assertThat(new KafkaClients(k).common("x")).containsEntry("ssl.cipher.suites", "TLS_AES_256_GCM_SHA384")
                .containsEntry("ssl.endpoint.identification.algorithm", "https");
        assertThat(k.client().describe()).startsWith("PLAINTEXT").contains("ssl.cipher.suites=[hidden]")
                .doesNotContain("TLS_AES_256_GCM_SHA384", "=https");
    }

    @Test
    void aPropertySetTwiceInTheFileIsAnErrorNotTheLastOneWins() throws Exception {
        // "set once" holds inside the file too: java.util.Properties keeps the last line silently
        Path file = Files.writeString(dir.resolve("client.properties"), "ssl.cipher.suites=TLS_AES_256_GCM_SHA384\n"
                + "ssl.protocol=TLSv1.3\nssl.cipher.suites = TLS_CHACHA20_POLY1305_SHA256\n");
        assertThatThrownBy(() -> load(env("KAFKA_CLIENT_CONFIG_FILE", file.toString())))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("KAFKA_CLIENT_CONFIG_FILE: sets ssl.cipher.suites more than once; set it once")
                .message().doesNotContain("TLS_AES", "CHACHA");
    }

    /** Consumers read committed records only, so that an aborted request is never erased: an operator's read_uncommitted was dropped without a word. */
    @Test
    void theIsolationLevelIsCioErasuresOwn() {
        assertThatThrownBy(() -> load(env("KAFKA_CLIENT_ISOLATION_LEVEL", "read_uncommitted")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("KAFKA_CLIENT_ISOLATION_LEVEL: isolation.level is set by cio-erasure itself and cannot be overridden");
    }

    /** An operator's timing reaches every client, except where a client of cio-erasure sets its own. */
    @Test
    void aClientsOwnTimingsTakeThePlaceOfAnOperators() {
        dev.cioerasure.kafka.KafkaClients clients = new dev.cioerasure.kafka.KafkaClients(load(env("KAFKA_CLIENT_LINGER_MS", "100",
                "KAFKA_CLIENT_RECONNECT_BACKOFF_MS", "250")));
        Map<String, Object> p = clients.producerConfig("worker", Map.of("linger.ms", 5));
        assertThat(p).containsEntry("linger.ms", 5).containsEntry("reconnect.backoff.ms", "250");
    }

    @Test
    void everyRuleBreachIsNamedInOneMessage() throws Exception {
        Path file = Files.writeString(dir.resolve("client.properties"), "enable.auto.commit=true\nsasl.mechanism=PLAIN\n");
        assertThatThrownBy(() -> load(env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "PLAIN",
                "KAFKA_SASL_USERNAME", "u", "KAFKA_CLIENT_CONFIG_FILE", file.toString(), "KAFKA_CLIENT_ACKS", "1",
                "KAFKA_SSL_KEYSTORE_LOCATION", dir.resolve("missing.p12").toString())))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: set both")
                .hasMessageContaining("enable.auto.commit is set by cio-erasure itself")
                .hasMessageContaining("sets sasl.mechanism, which KAFKA_SASL_MECHANISM already sets")
                .hasMessageContaining("KAFKA_CLIENT_ACKS: acks is set by cio-erasure itself")
                .hasMessageContaining("KAFKA_SSL_KEYSTORE_LOCATION:");
        assertThatThrownBy(() -> load(env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")))
                .hasMessageContaining("KAFKA_SASL_MECHANISM: missing");
        assertThatThrownBy(() -> load(env("KAFKA_SASL_MECHANISM", "PLAIN")))
                .hasMessageContaining("KAFKA_SECURITY_PROTOCOL is PLAINTEXT");
        assertThatThrownBy(() -> load(env("KAFKA_SECURITY_PROTOCOL", "TLS")))
                .hasMessageContaining("KAFKA_SECURITY_PROTOCOL: must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
        assertThatThrownBy(() -> load(env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "OAUTHBEARER",
                "KAFKA_SASL_USERNAME", "u", "KAFKA_SASL_PASSWORD", "p")))
                .hasMessageContaining("for OAUTHBEARER set KAFKA_SASL_JAAS_CONFIG").hasMessageNotContaining("=p");
    }

    @Test
    void aPlaintextClusterNeedsNothingMore() {
        Settings.Kafka k = load(env());
        assertThat(k.client()).isEqualTo(KafkaClientConfig.NONE);
        assertThat(new KafkaClients(k).common("x")).containsOnlyKeys("bootstrap.servers", "client.id");
    }
}
