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
 * packaged worker and intake disconnect them after 10 s (HttpServerLimits), so a health probe
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

    /** Sockets the process holds open, from /proc (a client sees a connection still queued for accept as open, too). */
    private static long openSockets(Process p) throws Exception {
        try (var fds = Files.list(Path.of("/proc", Long.toString(p.pid()), "fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (java.io.IOException closedMeanwhile) {
                    return false;
                }
            }).count();
        }
    }

    /**
     * Opens n connections from 22 threads, within a second or two: one after the other, they
     * overflow the monitoring port's accept queue (16) and wait for SYN retransmissions, so
     * the first ones would reach the server's 10 s limit before the last is open.
     */
    private static List<Socket> openAtOnce(int port, int n) throws Exception {
        java.util.concurrent.ExecutorService openers = java.util.concurrent.Executors.newFixedThreadPool(22);
        try {
            List<java.util.concurrent.Future<Socket>> opened = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                opened.add(openers.submit(() -> {
                    Socket s = new Socket();
                    s.connect(new java.net.InetSocketAddress("localhost", port), 10_000);
                    return s;
                }));
            }
            List<Socket> sockets = new ArrayList<>();
            for (var f : opened) {
                sockets.add(f.get());
            }
            return sockets;
        } finally {
            openers.shutdownNow();
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

    /**
     * A flood of connections (thousands within the 10 s the server gives each) took every file
     * descriptor of the intake: its Kafka client could no longer be made and it turned not ready.
     * Each server now holds at most 1,000 connections; those beyond are closed as soon as they are
     * accepted (HttpServerLimits), and the server answers again once the flood is gone.
     */
    @Test
    void connectionsBeyondAThousandAreClosedAtTheDoorAndTheServerAnswersAfterTheFlood() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "counts the process's sockets in /proc");
        Path log = Files.createTempFile("flooded-worker", ".log");
        Process worker = start(ProductionJarIT.WORKER_AGAINST_NOTHING, log, "worker");
        List<Socket> flood = new ArrayList<>();
        try {
            int port = boundPort(worker, log, WORKER_PORT);
            awaitServing(worker, port, log);
            long before = openSockets(worker);
            flood.addAll(openAtOnce(port, 1_100));
            Thread.sleep(1_000); // the server has accepted them all by now (and closed those beyond its limit)
            // 1,000 at most, and a few of the worker's own (its attempts to reach Kafka) that may have opened meanwhile
            assertThat(openSockets(worker) - before).as("sockets the worker holds for the flood").isLessThanOrEqualTo(1_010);
            int closedByTheServer = 0;
            for (Socket s : flood) {
                s.setSoTimeout(1);
                try {
                    if (s.getInputStream().read() < 0) {
                        closedByTheServer++;
                    }
                } catch (java.net.SocketTimeoutException stillOpen) {
                    // held by the server, or still in its accept queue
                } catch (java.io.IOException reset) {
                    closedByTheServer++;
                }
            }
            assertThat(closedByTheServer).as("connections closed at once").isPositive();
            for (Socket s : flood) {
                s.close();
            }
            HttpClient http = HttpClient.newHttpClient();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(http.send(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/health/live")).timeout(Duration.ofSeconds(2)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200));
        } finally {
            for (Socket s : flood) {
                s.close();
            }
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
