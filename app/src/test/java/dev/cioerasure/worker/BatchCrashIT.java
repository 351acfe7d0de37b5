package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.audit.ChainVerifier;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testing.WorkerProcess;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of a worker in batch mode between the suppress batches and the delete batches: a new
 * worker finishes every request, each with exactly one COMPLETED, each person deleted once and
 * only after a suppression, the chain intact.
 */
class BatchCrashIT {
    private TrackSandbox sandbox;
    private WorkerHarness h;
    private Process worker;

    @BeforeEach
    void setUp() throws Exception {
        sandbox = new TrackSandbox(new TrackSandbox.Options(WorkerHarness.SITE_ID, WorkerHarness.API_KEY, 10, 50, 0.0, true,
                TrackSandbox.Limit.SLIDING_WINDOW));
        h = new WorkerHarness(URI.create(sandbox.baseUrl().toString()), 50, 5, Duration.ofSeconds(5), 3);
    }

    @AfterEach
    void tearDown() {
        if (worker != null) {
            worker.destroyForcibly();
        }
        h.close();
        sandbox.close();
    }

    /** The worker as a separate JVM in batch mode, from the packaged jar when there is one. */
    private Process start(Path log) throws Exception {
        worker = WorkerProcess.start(h.settings, sandbox.baseUrl().toString(), 50, Map.of("CUSTOMERIO_TRACK_API", "batch",
                "CUSTOMERIO_BATCH_MAX_ITEMS", "50", "WORKER_INSTANCE_ID", "batch-crash-worker", "ERASURE_MAX_IN_FLIGHT", "200",
                "ERASURE_RETRY_DELAYS", "1s,1s,1s,1s,1s",
                "CUSTOMERIO_TIMEOUT_SECONDS", "300"), log); // a held delete batch never times out before the kill
        return worker;
    }

    @Test
    void aKillBetweenTheSuppressAndTheDeleteBatchesLosesNothingAndCompletesEachRequestOnce() throws Exception {
        int n = 150;
        int early = 100;
        for (int i = 0; i < early; i++) {
            h.send(("key-" + i).getBytes(), Messages.request("bc-" + i, "id", "bc-person-" + i));
        }
        Path logs = Files.createDirectories(Path.of("app", "target", "batch-crash-it"));
        // Suppress batches are accepted, delete batches are held unanswered: the worker is between the two.
        // (Failing them instead would open the breaker after 50 persons and stall the remaining suppresses.)
        sandbox.holdDeleteBatches(true);
        Process first = start(logs.resolve("worker-0.log"));
        // The rest arrive while delete batches are already waiting: their suppresses must still go out.
        await().atMost(Duration.ofSeconds(60)).until(() -> sandbox.heldDeleteBatches() > 0);
        for (int i = early; i < n; i++) {
            h.send(("key-" + i).getBytes(), Messages.request("bc-" + i, "id", "bc-person-" + i));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> accepted("suppress").size() == n);
        first.destroyForcibly(); // SIGKILL between the batches
        assertThat(first.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(accepted("destroy")).as("no delete was accepted before the kill").isEmpty();
        int before = h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'");

        sandbox.holdDeleteBatches(false);
        Process second = start(logs.resolve("worker-1.log"));
        await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'") == n);
        second.destroy();
        assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(before).as("nothing completed before the kill").isZero();
        assertThat(h.count("SELECT count(DISTINCT request_id) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'"))
                .isEqualTo(n);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome IN ('FAILED', 'DUPLICATE')")).isZero();
        Map<String, Long> deletes = accepted("destroy");
        assertThat(deletes).hasSize(n);
        assertThat(deletes.values()).as("each person deleted once").containsOnly(1L);
        for (String person : deletes.keySet()) {
            long firstSuppress = sandbox.calls().stream().filter(c -> c.status() == 200 && "suppress".equals(c.operation())
                    && person.equals(c.identifier())).mapToLong(TrackSandbox.Call::atNanos).min().orElseThrow();
            long delete = sandbox.calls().stream().filter(c -> c.status() == 200 && "destroy".equals(c.operation())
                    && person.equals(c.identifier())).mapToLong(TrackSandbox.Call::atNanos).min().orElseThrow();
            assertThat(delete).as("deleted only after a suppression was accepted").isGreaterThan(firstSuppress);
        }
        assertThat(new ChainVerifier(h.db).verify().intact()).isTrue();
        assertThat(sandbox.overWindow()).isZero();
        Cli.report("BatchCrashIT: %d requests, killed between the batches, %d suppressions accepted in all (%d again after the kill),"
                + " %d deletes, %d batch requests%n", n, sandbox.calls().stream().filter(c -> c.status() == 200
                && "suppress".equals(c.operation())).count(), sandbox.calls().stream().filter(c -> c.status() == 200
                && "suppress".equals(c.operation())).count() - n, deletes.size(), sandbox.batchRequests());
    }

    private Map<String, Long> accepted(String operation) {
        return sandbox.calls().stream().filter(c -> c.status() == 200 && operation.equals(c.operation()) && c.identifier() != null)
                .collect(Collectors.groupingBy(TrackSandbox.Call::identifier, Collectors.counting()));
    }
}
