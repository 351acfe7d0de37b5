package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Cli;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The intake's ports are arguments: a wrong one is exit 2 at once, before the settings are read
 * or Kafka is waited for. {@code --port 70000} with a broker that does not answer waited 15 s and
 * said exit 69 "no Kafka broker"; {@code --metrics-port} equal to {@code --port} without settings
 * said exit 78 "invalid configuration".
 */
class IntakeArgumentsTest {
    /** Settings whose broker does not answer: reaching Kafka's wait would take 15 s and exit 69. */
    private static final Map<String, String> ENV = Map.of("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1",
            "AUDIT_SUBJECT_KEY", "0123456789abcdef0123456789abcdef", "ERASURE_WEBHOOK_SECRET", "abcdefghijklmnopqrstuvwxyz123456");

    @Test
    void aPortOutOfRangeIsABadArgument() {
        for (String port : new String[] {"70000", "-1"}) {
            Cli.Run r = Cli.run(ENV, "intake", "--port", port);
            assertThat(r.exit()).as(r.err()).isEqualTo(2);
            assertThat(r.err()).contains("--port must be a port (1-65535; 0: any free one)");
        }
    }

    @Test
    void aMetricsPortLikeThePortIsABadArgumentEvenWithoutSettings() {
        Cli.Run r = Cli.run(Map.of(), "intake", "--port", "8181", "--metrics-port", "8181");
        assertThat(r.exit()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("--metrics-port must be a port (1-65535) other than --port");
    }
}
