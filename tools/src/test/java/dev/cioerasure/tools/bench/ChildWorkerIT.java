package dev.cioerasure.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A bench that is stopped (Ctrl-C, kill) stops the worker JVMs it started. */
class ChildWorkerIT {

    /** A JVM that starts a worker with nothing to reach (so it waits), says its pid, and waits to be stopped. */
    public static void main(String[] args) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ChildWorker w = new ChildWorker(Map.of("KAFKA_BOOTSTRAP_SERVERS", "localhost:1",
                "DATABASE_URL", "jdbc:postgresql://localhost:1/none", "DATABASE_USER", "u", "DATABASE_PASSWORD", "p",
                "CUSTOMERIO_SITE_ID", "site", "CUSTOMERIO_TRACK_API_KEY", "key", "AUDIT_SUBJECT_KEY", "0123456789abcdef0123456789abcdef"),
                "64m", port, Files.createTempFile("child-worker", ".log"));
        System.out.println("WORKER " + w.pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    @Test
    void aStoppedBenchStopsItsWorkers() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process bench = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), ChildWorkerIT.class.getName())
                .redirectErrorStream(true).start();
        ProcessHandle worker = null;
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(bench.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            while (line != null && !line.startsWith("WORKER ")) {
                line = out.readLine();
            }
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
