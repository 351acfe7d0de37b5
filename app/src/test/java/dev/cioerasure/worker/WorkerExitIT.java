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
        Process p = WorkerProcess.start(h.settings, track.baseUrl(), 100, Map.of("WORKER_INSTANCE_ID", "same-name"), log);
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
}
