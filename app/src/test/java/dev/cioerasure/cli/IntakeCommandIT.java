package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.TestInfra;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The packaged intake with its monitoring on a port of its own. */
class IntakeCommandIT {
    private final HttpClient http = HttpClient.newHttpClient();

    private Map<String, String> env(String topic) {
        return Map.of("KAFKA_BOOTSTRAP_SERVERS", TestInfra.kafka().bootstrapServers(), "ERASURE_TOPIC", topic,
                "AUDIT_SUBJECT_KEY", "k".repeat(32), "ERASURE_WEBHOOK_SECRET", "webhook-secret-for-the-intake");
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void withAMetricsPortTheIntakesPortServesOnlyItsTwoEndpoints() throws Exception {
        String topic = "intake-ports-" + System.nanoTime();
        TestInfra.kafka().createTopics(1, topic);
        int port = TestInfra.freePort();
        int metricsPort = TestInfra.freePort();
        Path log = Files.createTempFile("intake-ports", ".log");
        Process intake = SlowClientsIT.start(env(topic), log, "intake", "--port", Integer.toString(port),
                "--metrics-port", Integer.toString(metricsPort));
        try {
            SlowClientsIT.awaitServing(intake, metricsPort, log);
            for (String path : new String[] {"/metrics", "/health/live", "/health/ready"}) {
                assertThat(get(port, path).statusCode()).as("%s on the senders' port", path).isEqualTo(404);
            }
            HttpResponse<String> unsigned = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/requests"))
                    .POST(HttpRequest.BodyPublishers.ofString("{}")).header("Content-Type", "application/json").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(unsigned.statusCode()).as("the intake itself still answers").isEqualTo(401);
            HttpResponse<String> metrics = get(metricsPort, "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).containsPattern("erasure_intake_requests_total\\{[^}]*endpoint=\"unknown\"[^}]*status=\"404\"[^}]*\\} 3\\.0")
                    .containsPattern("erasure_intake_requests_total\\{[^}]*endpoint=\"requests\"[^}]*status=\"401\"[^}]*\\} 1\\.0");
            assertThat(get(metricsPort, "/health/live").statusCode()).isEqualTo(200);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> get(metricsPort, "/health/ready").statusCode() == 200);
            assertThat(get(metricsPort, "/v1/requests").statusCode()).as("no intake on the monitoring port").isEqualTo(404);
        } finally {
            intake.destroyForcibly().waitFor();
        }
    }

    /**
     * A load balancer keeps its idle connections to the intake open for a while (60 s is a common
     * default) and sends the next request on one of them. The JDK's server closed them after
     * 30-40 s idle, so such a request met a closing connection: the balancer answers 502, and a
     * sender that does not retry (a webhook) lost its request, which the intake never saw. Its
     * idle connections stay open 620 s now, longer than balancers keep theirs.
     */
    @Test
    void anIdleKeptAliveConnectionStillTakesARequestAfterAMinute() throws Exception {
        String topic = "intake-idle-" + System.nanoTime();
        TestInfra.kafka().createTopics(1, topic);
        int port = TestInfra.freePort();
        Path log = Files.createTempFile("intake-idle", ".log");
        Process intake = SlowClientsIT.start(env(topic), log, "intake", "--port", Integer.toString(port));
        try (java.net.Socket s = new java.net.Socket()) {
            SlowClientsIT.awaitServing(intake, port, log);
            s.connect(new java.net.InetSocketAddress("localhost", port));
            s.setSoTimeout(10_000);
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII));
            for (int i = 0; i < 2; i++) {
                if (i == 1) {
                    Thread.sleep(65_000); // idle, as a balancer's pooled connection between two requests
                }
                s.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: intake\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                assertThat(in.readLine()).as("request %d on the same connection", i + 1).isEqualTo("HTTP/1.1 200 OK");
                int length = 0;
                for (String h = in.readLine(); !h.isEmpty(); h = in.readLine()) {
                    if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                        length = Integer.parseInt(h.substring(15).strip());
                    }
                }
                in.skip(length);
            }
        } finally {
            intake.destroyForcibly().waitFor();
        }
    }

    @Test
    void aBusyMetricsPortIsAWrongSetting() throws Exception {
        String topic = "intake-busy-" + System.nanoTime();
        TestInfra.kafka().createTopics(1, topic);
        Path log = Files.createTempFile("intake-busy", ".log");
        try (ServerSocket taken = new ServerSocket(0)) {
            Process intake = SlowClientsIT.start(env(topic), log, "intake", "--port", Integer.toString(TestInfra.freePort()),
                    "--metrics-port", Integer.toString(taken.getLocalPort()));
            assertThat(intake.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(intake.exitValue()).isEqualTo(78);
            assertThat(Files.readString(log)).contains("--metrics-port: port " + taken.getLocalPort() + " is already in use");
        }
        Process same = SlowClientsIT.start(env(topic), log, "intake", "--port", "8181", "--metrics-port", "8181");
        assertThat(same.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(same.exitValue()).isEqualTo(2);
        assertThat(Files.readString(log)).contains("--metrics-port must be a port (1-65535) other than --port");
    }
}
