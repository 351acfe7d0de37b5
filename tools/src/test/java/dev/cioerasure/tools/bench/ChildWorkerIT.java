package dev.cioerasure.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.tools.OwnerJvm;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A bench that is stopped (Ctrl-C, kill) stops the worker JVMs it started. */
class ChildWorkerIT {

    /** A JVM that starts a worker with nothing to reach (so it waits), says its pid, and waits to be stopped. */
    public static void main(String[] args) throws Exception {
        ChildWorker w = new ChildWorker(Map.of("KAFKA_BOOTSTRAP_SERVERS", "localhost:1",
                "DATABASE_URL", "jdbc:postgresql://localhost:1/none", "DATABASE_USER", "u", "DATABASE_PASSWORD", "p",
                "CUSTOMERIO_SITE_ID", "site", "CUSTOMERIO_TRACK_API_KEY", "key", "AUDIT_SUBJECT_KEY", "0123456789abcdef0123456789abcdef"),
                "64m", Benchmark.freePort(), Files.createTempFile("child-worker", ".log"));
        OwnerJvm.announceAndWait("WORKER " + w.pid());
    }

    @Test
    void aStoppedBenchStopsItsWorkers() throws Exception {
        OwnerJvm.Started started = OwnerJvm.start(ChildWorkerIT.class, "WORKER ");
        Process bench = started.process();
        ProcessHandle worker = null;
        try {
            String line = started.line();
            assertThat(line).as("the bench started a worker").startsWith("WORKER ");
            worker = ProcessHandle.of(Long.parseLong(line.substring(7).trim())).orElseThrow();
            Thread.sleep(2_000);
            assertThat(worker.isAlive()).as("the worker waits for Kafka and PostgreSQL").isTrue();
            bench.destroy(); // SIGTERM, as a Ctrl-C or kill would send
            bench.waitFor(30, TimeUnit.SECONDS);
            worker.onExit().get(20, TimeUnit.SECONDS); // a worker left alone would wait forever
            assertThat(worker.isAlive()).isFalse();
        } finally {
            bench.descendants().forEach(ProcessHandle::destroyForcibly);
            bench.destroyForcibly();
            if (worker != null) {
                worker.destroyForcibly(); // not a descendant once the bench has gone
            }
        }
    }
}
