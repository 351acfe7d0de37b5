package dev.cioerasure.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The monitoring port answers reads only: GET and HEAD, and 405 for any other method. */
class MetricsServerTest {
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> send(int port, String method, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void getAndHeadAreAnsweredAndEveryOtherMethodIsRefused() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.counter("probe_total").increment();
        PrintStream err = System.err;
        ByteArrayOutputStream stderr = new ByteArrayOutputStream();
        try (MetricsServer server = new MetricsServer(0, registry, () -> true, () -> false)) {
            int port = server.port();
            HttpResponse<String> metrics = send(port, "GET", "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("probe_total 1.0");
            assertThat(send(port, "GET", "/health/live").statusCode()).isEqualTo(200);
            assertThat(send(port, "GET", "/health/ready").statusCode()).isEqualTo(503);

            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            for (String path : List.of("/metrics", "/health/live", "/health/ready")) {
                HttpResponse<String> head = send(port, "HEAD", path);
                assertThat(head.statusCode()).as("HEAD %s", path).isEqualTo(path.equals("/health/ready") ? 503 : 200);
                assertThat(head.body()).as("HEAD %s", path).isEmpty();
                assertThat(head.headers().firstValue("Content-Type")).as("HEAD %s", path).isPresent();
                for (String method : List.of("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")) {
                    HttpResponse<String> refused = send(port, method, path);
                    assertThat(refused.statusCode()).as("%s %s", method, path).isEqualTo(405);
                    assertThat(refused.headers().firstValue("Allow")).as("%s %s", method, path).hasValue("GET, HEAD");
                    assertThat(refused.body()).as("%s %s", method, path).doesNotContain("probe_total");
                }
            }
            assertThat(send(port, "POST", "/other").statusCode()).isEqualTo(404);
        } finally {
            System.setErr(err);
        }
        // the JDK's server warns on stderr when a HEAD answer is given a body length
        assertThat(stderr.toString(StandardCharsets.UTF_8)).doesNotContain("HEAD");
    }

    /** A reason with a line break, a quote, a backslash or a control character is still one JSON value. */
    @Test
    void aReasonOfAnyCharactersIsValidJson() throws Exception {
        String reason = "audit database unreachable (FATAL: no\nsuch \"role\" \\ \t\u0001 \u00e9)";
        try (MetricsServer server = new MetricsServer(0, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), () -> true,
                () -> java.util.Optional.of(reason))) {
            HttpResponse<String> ready = send(server.port(), "GET", "/health/ready");
            assertThat(ready.statusCode()).isEqualTo(503);
            com.fasterxml.jackson.databind.JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(ready.body());
            assertThat(json.get("status").asText()).isEqualTo("DOWN");
            assertThat(json.get("reason").asText()).isEqualTo(reason);
        }
    }
}
