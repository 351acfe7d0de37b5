package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.TestInfra;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Clients that connect and never finish their request hold a thread of the JDK HTTP server each,
 * and its pools are small (2 threads on the worker's monitoring port, 16 on the intake). The
 * packaged worker and intake disconnect them after 10 s (HttpServerTimeouts), so a health probe
 * that comes after as many of them as there are threads is still answered. Without the limits
 * it waits forever (this test's probes time out after 25 s).
 */
class SlowClientsIT {
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    /** Waits until something answers HTTP on the port (any status), or the process ends. */
    static void awaitServing(Process p, int port, Path log) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new AssertionError("the process ended: " + Files.readString(log));
            }
            try {
                http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/health/live")).timeout(Duration.ofSeconds(2))
                        .build(), HttpResponse.BodyHandlers.discarding());
                return;
            } catch (java.io.IOException e) {
                Thread.sleep(200);
            }
        }
        throw new AssertionError("nothing served port " + port + ": " + Files.readString(log));
    }

    /**
     * The port a process started on port 0 bound, read from the line its log names it in (group 1
     * of {@code line}): a port picked free beforehand may be taken by a test running alongside
     * before the process binds it.
     */
    static int boundPort(Process p, Path log, Pattern line) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = line.matcher(Files.readString(log));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            if (!p.isAlive()) {
                throw new AssertionError("the process ended: " + Files.readString(log));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no line names the port: " + Files.readString(log));
    }

    static final Pattern WORKER_PORT = Pattern.compile("metrics and health on http://localhost:(\\d+)/metrics");

    /**
     * Opens {@code n} connections that send half a request each (half of them stop inside the
     * headers, half inside a body), then asks for /health/live; returns how long the answer took.
     */
    private static Duration probeBehindStalledClients(int port, int n) throws Exception {
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                Socket s = new Socket("localhost", port);
                stalled.add(s);
                OutputStream out = s.getOutputStream();
                out.write((i % 2 == 0 ? "POST /v1/requests HTTP/1.1\r\nHost: x\r\n"
                        : "POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
            Thread.sleep(500); // each is on a thread of the server now
            long t0 = System.nanoTime();
            HttpResponse<String> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + port + "/health/live")).timeout(Duration.ofSeconds(25)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).isIn(200, 503);
            return Duration.ofNanos(System.nanoTime() - t0);
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
    }

    static Process start(Map<String, String> env, Path log, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(JAVA, "-jar", ProductionJarIT.JAR.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    @Test
    void theWorkersMonitoringPortAnswersAProbeBehindClientsThatNeverFinishTheirRequest() throws Exception {
        Path log = Files.createTempFile("slow-worker", ".log");
        Process worker = start(ProductionJarIT.WORKER_AGAINST_NOTHING, log, "worker"); // METRICS_PORT=0
        try {
            int port = boundPort(worker, log, WORKER_PORT);
            awaitServing(worker, port, log);
            assertThat(probeBehindStalledClients(port, 4)).isLessThan(Duration.ofSeconds(20));
        } finally {
            worker.destroyForcibly().waitFor();
        }
    }

    @Test
    void theIntakeAnswersAProbeBehindMoreClientsThatNeverFinishTheirRequestThanItHasThreads() throws Exception {
        String topic = "slow-clients-" + System.nanoTime();
        TestInfra.kafka().createTopics(1, topic);
        Path log = Files.createTempFile("slow-intake", ".log");
        Process intake = start(Map.of("KAFKA_BOOTSTRAP_SERVERS", TestInfra.kafka().bootstrapServers(), "ERASURE_TOPIC", topic,
                "AUDIT_SUBJECT_KEY", "k".repeat(32), "ERASURE_WEBHOOK_SECRET", "webhook-secret-for-slow-clients"), log,
                "intake", "--port", "0");
        try {
            int port = boundPort(intake, log, Pattern.compile("intake listening on port (\\d+)"));
            awaitServing(intake, port, log);
            assertThat(probeBehindStalledClients(port, 20)).isLessThan(Duration.ofSeconds(20));
        } finally {
            intake.destroyForcibly().waitFor();
        }
    }
}
