package dev.cioerasure.testbroker;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A real single-node Kafka (KRaft, combined broker+controller) from {@code kafka-test-common-runtime},
 * as a program: {@code java -jar cio-erasure-test-broker.jar plaintext|sasl}.
 *
 * <p>The protocol with the test kit's {@code EmbeddedKafka}, on standard input and output:
 * once the broker is ready it prints one line {@code BOOTSTRAP <host:port>}; it stops and exits
 * when its standard input ends or reads {@code stop}. So a broker never outlives the JVM that
 * started it, even when that JVM is killed. A broker that cannot start prints
 * {@code FAILED <reason>} and exits 1.
 *
 * <p>{@code sasl}: the listener requires SASL/PLAIN, and the authorizer allows only the kit's
 * admin user ({@code plain-admin}); the test kit registers the server's login in this JVM's JAAS
 * configuration.
 */
public final class BrokerMain {
    private BrokerMain() { }

    public static void main(String[] args) throws Exception {
        SecurityProtocol protocol = args.length > 0 && args[0].equals("sasl") ? SecurityProtocol.SASL_PLAINTEXT : SecurityProtocol.PLAINTEXT;
        PrintStream out = System.out;
        KafkaClusterTestKit cluster;
        try {
            cluster = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
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
                    // Groups on the consumer protocol (KIP-848): a session of 10 s rather than 45 s, so
                    // that a test killing a static member waits that long for its id (InstanceIdRelease)
                    .setConfigProp("group.consumer.min.session.timeout.ms", "6000")
                    .setConfigProp("group.consumer.session.timeout.ms", "10000")
                    .setConfigProp("group.consumer.min.heartbeat.interval.ms", "1000")
                    .setConfigProp("group.consumer.heartbeat.interval.ms", "2000")
                    .setConfigProp("auto.create.topics.enable", "false")
                    .build();
            // The kit narrates formatting on standard output; the protocol line must stand alone.
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            cluster.format();
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception e) {
            out.println("FAILED " + e);
            out.flush();
            System.exit(1);
            return;
        }
        out.println("BOOTSTRAP " + cluster.bootstrapServers());
        out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null && !line.strip().equals("stop"); line = in.readLine()) {
            // nothing else is understood
        }
        cluster.close();
        // The kit deletes the broker's directories in a shutdown hook.
        System.exit(0);
    }
}
