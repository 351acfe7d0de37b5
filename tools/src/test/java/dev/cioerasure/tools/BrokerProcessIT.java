package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The embedded Kafka runs in a JVM of its own, and never outlives the JVM that started it. */
class BrokerProcessIT {

    /** A JVM that starts an embedded Kafka, says where, and waits to be killed. */
    public static void main(String[] args) throws Exception {
        EmbeddedKafka kafka = EmbeddedKafka.start();
        System.out.println("KAFKA " + kafka.bootstrapServers());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    @Test
    void theBrokerStopsWhenTheJvmThatStartedItIsKilled() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process owner = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), BrokerProcessIT.class.getName())
                .redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(owner.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            while (line != null && !line.startsWith("KAFKA ")) {
                line = out.readLine();
            }
            assertThat(line).as("the owner started a broker").startsWith("KAFKA localhost:");
            Optional<ProcessHandle> broker = owner.descendants()
                    .filter(p -> p.info().commandLine().orElse("").contains("test-broker")).findFirst();
            assertThat(broker).as("the broker is a process of its own, under the JVM that started it").isPresent();
            assertThat(broker.get().isAlive()).isTrue();
            owner.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // kill -9: no shutdown hook runs
            // its standard input closes with its parent: the broker stops on its own
            broker.get().onExit().get(30, TimeUnit.SECONDS);
            assertThat(broker.get().isAlive()).isFalse();
        } finally {
            owner.descendants().forEach(ProcessHandle::destroyForcibly);
            owner.destroyForcibly();
        }
    }
}
