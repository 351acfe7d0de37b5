package dev.cioerasure.preflight;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import java.io.IOException;
import java.util.EnumSet;
import java.util.Map;
import org.apache.kafka.common.KafkaException;
import org.junit.jupiter.api.Test;

/** Why a Kafka client could not be made, as the operator reads it. */
class KafkaClientProblemTest {
    private static final Settings.Kafka KAFKA = SettingsLoader.load(Map.of("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),
            EnumSet.of(SettingsLoader.Part.KAFKA)).kafka();

    /** The intake under a connection flood said its security settings were wrong. */
    @Test
    void aProcessOutOfFileDescriptorsIsNotToldItsSettingsAreWrong() {
        ServiceProblem p = Preflight.clientNotCreated(KAFKA, new KafkaException("Failed to create new KafkaAdminClient",
                new KafkaException(new IOException("Too many open files"))));
        assertThat(p.kind()).isEqualTo(ServiceProblem.Kind.UNAVAILABLE);
        assertThat(p.getMessage()).contains("no file descriptor left", "Too many open files", "ulimit -n")
                .doesNotContain("KAFKA_SECURITY_PROTOCOL");
    }

    @Test
    void aKeyStoreThatCannotBeReadIsStillASetting() {
        ServiceProblem p = Preflight.clientNotCreated(KAFKA, new KafkaException("Failed to load SSL keystore",
                new IOException("keystore password was incorrect")));
        assertThat(p.kind()).isEqualTo(ServiceProblem.Kind.CONFIGURATION);
        assertThat(p.getMessage()).startsWith("KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*, KAFKA_CLIENT_*")
                .contains("IOException: keystore password was incorrect");
    }
}
