package dev.cioerasure.worker;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testing.WorkerProcess;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** How a worker process ends when something other than a stop request ends its consumer loop. */
class WorkerExitIT {
    private WireMockServer track;
    private WorkerHarness h;
    private final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        track = new WireMockServer(options().dynamicPort());
        track.start();
        h = new WorkerHarness(URI.create(track.baseUrl()), 100, 3, Duration.ofSeconds(5), 2);
    }

    @AfterEach
    void tearDown() {
        processes.forEach(Process::destroyForcibly);
        h.close();
        track.stop();
    }

    private Process worker(Path log) throws Exception {
        return worker(log, Map.of());
    }

    private Process worker(Path log, Map<String, String> env) throws Exception {
        Map<String, String> all = new java.util.HashMap<>(env);
        all.put("WORKER_INSTANCE_ID", "same-name");
        Process p = WorkerProcess.start(h.settings, track.baseUrl(), 100, all, log);
        processes.add(p);
        return p;
    }

    /**
     * WORKER_INSTANCE_ID makes the worker a static member of its group: a second worker started
     * with the same one (copied into every replica's settings, say) fences the first. The fenced
     * worker said "exiting so the supervisor restarts the worker" and then exited 0 (its shutdown
     * hook, run by that exit, halted the JVM with 0), after a stack trace: a supervisor that
     * restarts only failures left it down, and nothing said why.
     */
    @Test
    void aWorkerFencedByAnotherWithItsInstanceIdExitsWithAConfigurationErrorThatSaysSo() throws Exception {
        Path logA = Files.createTempFile("fenced-a", ".log");
        Path logB = Files.createTempFile("fenced-b", ".log");
        Process a = worker(logA);
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(logA).contains("assigned ["));
        Process b = worker(logB);
        assertThat(a.waitFor(60, TimeUnit.SECONDS)).as("the fenced worker exits").isTrue();
        String out = Files.readString(logA);
        assertThat(a.exitValue()).as(out).isEqualTo(78);
        assertThat(out).contains("cio-erasure: another worker joined consumer group " + h.settings.kafka().groupId()
                        + " with WORKER_INSTANCE_ID 'same-name' and took this one's place: give every instance its own WORKER_INSTANCE_ID")
                .doesNotContain("Exception in thread", "\tat ", "stopped cleanly");
        // the harness's worker logs in as a member of cio_erasure_writer only: no warning about its rights
        assertThat(out).doesNotContain("DATABASE_USER: ");
        // the newcomer carries on with the group's partitions
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(logB).contains("assigned ["));
        assertThat(b.isAlive()).isTrue();
    }

    /**
     * Under Kafka's consumer group protocol (KIP-848) the group refuses the newcomer instead, while
     * it holds the id for the member that has it: the second worker ended "unexpectedly" (exit 70)
     * at once, and so did a worker restarted after a kill, at every restart until the killed
     * member's session timed out (45 s, by hand). Now it waits for the id, not ready meanwhile, and
     * joins once it is released; the first one goes on.
     */
    @Test
    void underTheConsumerProtocolAWorkerWaitsForItsInstanceIdAndJoinsOnceItIsReleased() throws Exception {
        Map<String, String> consumerProtocol = Map.of("KAFKA_CLIENT_GROUP_PROTOCOL", "consumer");
        Path logA = Files.createTempFile("held-a", ".log");
        Path logB = Files.createTempFile("held-b", ".log");
        Process a = worker(logA, consumerProtocol);
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(logA).contains("assigned ["));
        Process b = worker(logB, consumerProtocol);
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(logB).contains("holds WORKER_INSTANCE_ID 'same-name' for"
                + " another member (group.protocol=consumer)"));
        assertThat(Files.readString(logB)).contains("waiting up to 90 s for it to be released before joining").doesNotContain("assigned [");
        assertThat(a.isAlive()).as("the member that holds the id goes on").isTrue();
        assertThat(b.isAlive()).as("the newcomer waits").isTrue();

        a.destroy(); // SIGTERM: it leaves the group, which releases the id
        assertThat(a.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(a.exitValue()).as(Files.readString(logA)).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(logB).contains("assigned ["));
        assertThat(Files.readString(logB)).contains("consumer group " + h.settings.kafka().groupId()
                + " released WORKER_INSTANCE_ID 'same-name' after").doesNotContain("Exception in thread", "\tat ", "unexpectedly");
        assertThat(b.isAlive()).isTrue();
    }
}
