package dev.cioerasure.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
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
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Every metric that the shipped alert rules (and dashboards) use exists on a live worker's /metrics. */
public class MetricsContractIT {
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
        // with an App API key, for the verification's series (no check falls due within the test)
        try (WorkerHarness h = WorkerHarness.forStub(URI.create(track.baseUrl())).verification(new dev.cioerasure.config.Settings.Verification(
                dev.cioerasure.config.Secret.of("CUSTOMERIO_APP_API_KEY", "contract-app-key"), URI.create(track.baseUrl()), 10,
                Duration.ofHours(1), Duration.ofHours(24)))) {
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
            // The intake's own series come from an intake.
            String intakeScrape;
            try (dev.cioerasure.intake.IntakeServer intake = new dev.cioerasure.intake.IntakeServer(new dev.cioerasure.config.Settings(
                    h.settings.kafka(), null, null, h.settings.audit(), null,
                    List.of(dev.cioerasure.config.Secret.of("ERASURE_WEBHOOK_SECRET", "contract-secret"))), 0, Metrics.prometheus(),
                    java.time.Clock.systemUTC())) {
                intakeScrape = scrape(intake.port());
            }
            assertThat(used).contains("erasure_intake_ready");
            // ErasureIntakeRestarting reads the intake's start time, the one metric of another prefix its rules use
            assertThat(intakeScrape).containsPattern("(?m)^process_start_time_seconds[{ ]");
            for (String name : used) {
                assertThat(name.startsWith("erasure_intake_") ? intakeScrape : scrape).as("metric %s used by an alert rule", name)
                        .containsPattern("(?m)^" + name + "[{ ]");
            }
            // ErasureAppApiUnavailable reads the App API's breaker by its name
            assertThat(scrape).containsPattern("(?m)^resilience4j_circuitbreaker_state\\{[^}]*name=\"customerio-app\"[^}]*workspace=\"default\"");
            // The alerts and the dashboard's workspace variable group by it: every series about a workspace carries it.
            for (String name : List.of("erasure_track_call_seconds_count", "erasure_credentials_rejected", "erasure_ratelimit_calls_per_second",
                    "erasure_ratelimiter_wait_seconds_count", "resilience4j_circuitbreaker_state", "resilience4j_retry_calls_total",
                    "erasure_verifications_total", "erasure_credentials_age_seconds", "erasure_app_credentials_rejected",
                    "erasure_app_control_person_missing")) {
                assertThat(scrape).as("%s names its workspace", name).containsPattern("(?m)^" + name + "\\{[^}]*workspace=\"default\"")
                        .doesNotContainPattern("(?m)^" + name + "\\{(?![^}]*workspace=)[^}]*}");
            }
        } finally {
            track.stop();
        }
    }

    public static String scrape(int port) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The value of one sample line, e.g. {@code erasure_ready{application="cio-erasure"} 1.0}. */
    public static String sample(String scrape, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{[^}]*\\} (\\S+)$").matcher(scrape);
        assertThat(m.find()).as("%s in the scrape", name).isTrue();
        return m.group(1);
    }

    /** promtool from PATH, .tools (scripts/check-monitoring.sh fetches it there) or PROMTOOL; null when absent. */
    public static Path promtool() {
        for (String candidate : new String[] {System.getenv("PROMTOOL"), ".tools/prometheus/usr/bin/promtool",
                "/usr/bin/promtool", "/usr/local/bin/promtool"}) {
            if (candidate != null && Files.isExecutable(Path.of(candidate))) {
                return Path.of(candidate).toAbsolutePath();
            }
        }
        return null;
    }

    @Test
    void aStoppedWorkerMakesTheDeadWorkerAlertsTrue() throws Exception {
        WireMockServer track = TrackStubs.started();
        String live;
        int port;
        try (WorkerHarness h = WorkerHarness.forStub(URI.create(track.baseUrl()))) {
            h.start();
            port = h.runtime().metricsPort();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.runtime().worker().isReady());
            live = scrape(port);
            h.stop();
        } finally {
            track.stop();
        }
        // Running: everything an alert needs is there from the start, counters included.
        assertThat(sample(live, "erasure_ready")).isEqualTo("1.0");
        assertThat(live).containsPattern("(?m)^erasure_build_info\\{[^}]*version=\"[^\"]+\"[^}]*\\} 1(\\.0)?$");
        assertThat(live).as("the kafka-clients version, read from its jar").containsPattern("(?m)^erasure_build_info\\{[^}]*kafka_clients=\"\\d+\\.\\d+\\.\\d+\"");
        assertThat(live).containsPattern("(?m)^erasure_dlq_total\\{[^}]*reason=\"UNKNOWN_FIELD\"[^}]*\\} 0\\.0$");
        assertThat(live).containsPattern("(?m)^erasure_republish_given_up_total\\{[^}]*topic=\"dlq\"[^}]*\\} 0\\.0$");
        String overdue = sample(live, "erasure_open_overdue");
        // Stopped: the scrape fails, which Prometheus records as up == 0, and every erasure_* series is gone.
        assertThatThrownBy(() -> scrape(port)).isInstanceOf(java.io.IOException.class);

        // The same scenario through the real rule engine: the samples scraped above for three
        // minutes, then the failed scrapes.
        String labels = "job=\"cio-erasure-worker\", instance=\"localhost:" + port + "\", application=\"cio-erasure\"";
        promtoolTest(String.join("\n",
                "      - series: 'up{job=\"cio-erasure-worker\", instance=\"localhost:" + port + "\"}'",
                "        values: '1 1 1 0x30'",
                "      - series: 'erasure_ready{" + labels + "}'",
                "        values: '" + (int) Double.parseDouble(sample(live, "erasure_ready")) + "x2'",
                "      - series: 'erasure_open_overdue{" + labels + "}'",
                "        values: '" + (int) Double.parseDouble(overdue) + "x2'",
                "    alert_rule_test:",
                "      - eval_time: 1m",
                "        alertname: ErasureWorkerDown",
                "        exp_alerts: []",
                "      - eval_time: 6m",
                "        alertname: ErasureWorkerDown",
                "        exp_alerts:",
                "          - exp_labels: { severity: critical, job: cio-erasure-worker, instance: \"localhost:" + port + "\" }",
                "            exp_annotations:",
                "              summary: \"Worker localhost:" + port + " cannot be scraped: it is down or unreachable, and erasures on its"
                        + " partitions wait\"",
                "              runbook_url: https://docs.test/operations.md#erasureworkerdown",
                "      - eval_time: 6m",
                "        alertname: ErasureNoWorker",
                "        exp_alerts:",
                "          - exp_labels: { severity: critical }",
                "            exp_annotations:",
                "              summary: \"No cio-erasure worker is up: no erasure is being processed\"",
                "              runbook_url: https://docs.test/operations.md#erasurenoworker",
                "      - eval_time: 20m",
                "        alertname: ErasureMonitoringBlind",
                "        exp_alerts:",
                "          - exp_labels: { severity: critical }",
                "            exp_annotations:",
                "              summary: \"No worker reports the deadline metrics: overdue requests would go unnoticed\"",
                "              runbook_url: https://docs.test/operations.md#erasuremonitoringblind",
                ""));
    }

    /**
     * Runs promtool's rule unit test on the shipped alerts.yml: {@code seriesAndTests} is the
     * test case after {@code input_series:} (series, then {@code alert_rule_test:}), one minute per
     * sample, runbook base {@code https://docs.test}.
     */
    public static void promtoolTest(String seriesAndTests) throws Exception {
        Path promtool = promtool();
        org.junit.jupiter.api.Assumptions.assumeTrue(promtool != null,
                "promtool not installed (scripts/fetch-tools.sh fetches it); the rules' evaluation is skipped");
        Path dir = Files.createTempDirectory("promtool");
        Files.copy(Path.of("config", "prometheus", "alerts.yml"), dir.resolve("alerts.yml"));
        Files.writeString(dir.resolve("test.yml"), String.join("\n",
                "rule_files: [alerts.yml]",
                "evaluation_interval: 1m",
                "tests:",
                "  - interval: 1m",
                "    external_labels: { runbook_base: https://docs.test }",
                "    input_series:",
                seriesAndTests));
        Process p = new ProcessBuilder(promtool.toString(), "test", "rules", "test.yml").directory(dir.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertThat(out).contains("SUCCESS");
    }

    @Test
    void theShippedRulesPassPromtoolAndTheirUnitTests() throws Exception {
        Path promtool = promtool();
        org.junit.jupiter.api.Assumptions.assumeTrue(promtool != null,
                "promtool not installed (scripts/fetch-tools.sh fetches it); skipped");
        for (String[] args : new String[][] {{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}}) {
            java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(promtool.toString()));
            command.addAll(java.util.List.of(args));
            Process p = new ProcessBuilder(command).directory(Path.of("config", "prometheus").toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as(out).isZero();
            assertThat(out).contains("SUCCESS");
        }
    }
}
