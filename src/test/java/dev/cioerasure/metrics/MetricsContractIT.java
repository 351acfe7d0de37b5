package dev.cioerasure.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every metric that the shipped alert rules (and dashboards) use exists on a live worker's /metrics. */
class MetricsContractIT {
    private static final Pattern METRIC = Pattern.compile("\\b((?:erasure|resilience4j|kafka|hikaricp|jvm|process)_[a-z0-9_]+)\\b");

    static Set<String> metricsUsedIn(Path file) throws Exception {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC.matcher(Files.readString(file));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void everyMetricInTheAlertRulesAndTheDashboardIsExported() throws Exception {
        WireMockServer track = TrackStubs.started();
        try (WorkerHarness h = WorkerHarness.forStub(URI.create(track.baseUrl()))) {
            h.send(Messages.request("r-contract", "id", "contract-1"));
            h.send("not json".getBytes());
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 2);
            String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://localhost:" + h.runtime().metricsPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            Set<String> used = metricsUsedIn(Path.of("config", "prometheus", "alerts.yml"));
            assertThat(used).contains("erasure_open_overdue", "erasure_ready");
            Set<String> dashboard = metricsUsedIn(Path.of("config", "grafana", "dashboards", "cio-erasure.json"));
            assertThat(dashboard).contains("erasure_requests_total", "erasure_track_call_seconds_bucket", "erasure_retry_parked");
            used.addAll(dashboard);
            for (String name : used) {
                assertThat(scrape).as("metric %s used by an alert rule", name).containsPattern("(?m)^" + name + "[{ ]");
            }
        } finally {
            track.stop();
        }
    }
}
