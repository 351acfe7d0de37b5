package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The embedded Kafka runs in a JVM of its own, and never outlives the JVM that started it. */
class BrokerProcessIT {

    /** A JVM that starts an embedded Kafka, says where, and waits to be killed. */
    public static void main(String[] args) throws Exception {
        EmbeddedKafka kafka = EmbeddedKafka.start();
        OwnerJvm.announceAndWait("KAFKA " + kafka.bootstrapServers());
    }

    @Test
    void theBrokerStopsWhenTheJvmThatStartedItIsKilled() throws Exception {
        OwnerJvm.Started started = OwnerJvm.start(BrokerProcessIT.class, "KAFKA ");
        Process owner = started.process();
        try {
            String line = started.line();
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
