package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.metrics.MetricsContractIT;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Verification end to end: the real broker and database, the sandbox's Track and App APIs (a
 * person is gone a while after the erasure, or scripted to stay), the worker's verification topic.
 */
class VerificationIT {
    private static final String APP_KEY = "app-api-key-0123456789";

    private TrackSandbox sandbox;

    @BeforeEach
    void sandbox() throws Exception {
        sandbox = new TrackSandbox(new TrackSandbox.Options(WorkerHarness.SITE_ID, WorkerHarness.API_KEY, 5, 0, 0.0));
    }

    @AfterEach
    void stop() {
        sandbox.close();
    }

    private Settings.Verification verification(Duration firstCheckAfter, Duration deadline) {
        return new Settings.Verification(Secret.of("CUSTOMERIO_APP_API_KEY", APP_KEY), sandbox.baseUrl(),
                TrackSandbox.APP_LIMIT_PER_SECOND, firstCheckAfter, deadline);
    }

    private static Map<String, String> verifications(WorkerHarness h) throws Exception {
        return h.rows().stream().filter(r -> "VERIFY".equals(r.get("step")))
                .collect(Collectors.toMap(r -> (String) r.get("request_id"), r -> (String) r.get("outcome")));
    }

    @Test
    void verifiesEachErasureAndReportsAPersonStillPresentAtTheDeadlineWithItsAlert() throws Exception {
        // Deleted 3 s after the erasure: the first check (after 0.3 s) still finds them present.
        sandbox.enableAppApi(APP_KEY, Duration.ofSeconds(3));
        sandbox.keepPresent("stays@example.com");
        sandbox.failAppApi(429, 2);
        try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl())
                .verification(verification(Duration.ofMillis(300), Duration.ofSeconds(12))).outcomeEvents()) {
            h.start();
            int port = h.runtime().metricsPort();
            String before = MetricsContractIT.scrape(port);
            for (int i = 0; i < 8; i++) {
                h.send(Messages.request("v-" + i, "email", "person" + i + "@example.com"));
            }
            h.send(Messages.request("v-stays", "email", "stays@example.com"));
            await().atMost(Duration.ofSeconds(60)).until(() -> verifications(h).size() == 9);

            Map<String, String> results = verifications(h);
            assertThat(results.get("v-stays")).isEqualTo("STILL_PRESENT");
            results.remove("v-stays");
            assertThat(results.values()).containsOnly("VERIFIED").hasSize(8);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND outcome = 'VERIFIED' AND http_status = 404"))
                    .isEqualTo(8);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND outcome = 'VERIFIED' AND attempts >= 2"))
                    .as("a check before the deletion found the person, and a later one did not").isPositive();
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND subject_hash IS NOT NULL"
                    + " AND kafka_topic = ?", h.topic + ".verify")).isEqualTo(9);
            assertThat(h.rows().toString()).doesNotContain("@example.com");
            assertThat(sandbox.appOverWindow()).isZero();

            String after = MetricsContractIT.scrape(port);
            assertThat(after).containsPattern("(?m)^erasure_verifications_total\\{[^}]*outcome=\"STILL_PRESENT\"[^}]*\\} 1\\.0$");
            assertThat(after).containsPattern("(?m)^erasure_verifications_total\\{[^}]*outcome=\"VERIFIED\"[^}]*\\} 8\\.0$");
            assertThat(after).doesNotContain("@example.com");
            alertFires(port, stillPresent(before), stillPresent(after));

            // A ticketing platform reads both results of each request from the outcome events, keyed by request id.
            List<org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]>> events = h.read(h.topic + ".outcomes", 18,
                    Duration.ofSeconds(30));
            List<String> seen = events.stream().map(e -> new String(e.key(), StandardCharsets.UTF_8) + " "
                    + new String(e.value(), StandardCharsets.UTF_8).replaceAll(".*\"event\":\"(\\w+)\",\"outcome\":\"(\\w+)\".*", "$1 $2"))
                    .toList();
            assertThat(seen).hasSize(18).contains("v-0 outcome COMPLETED", "v-0 verification VERIFIED", "v-stays outcome COMPLETED",
                    "v-stays verification STILL_PRESENT");
            assertThat(events).allSatisfy(e -> assertThat(new String(e.value(), StandardCharsets.UTF_8))
                    .startsWith("{\"schema\":\"cio-erasure-outcome/1\"").doesNotContain("@example.com", "subject"));
        }
    }

    private static int stillPresent(String scrape) {
        java.util.regex.Matcher m = java.util.regex.Pattern
                .compile("(?m)^erasure_verifications_total\\{[^}]*outcome=\"STILL_PRESENT\"[^}]*workspace=\"default\"[^}]*\\} (\\S+)$")
                .matcher(scrape);
        assertThat(m.find()).as("erasure_verifications_total{outcome=STILL_PRESENT} is exported from the start").isTrue();
        return (int) Double.parseDouble(m.group(1));
    }

    /** The shipped rule, evaluated by promtool on the counter values this worker exported before and after. */
    private static void alertFires(int port, int before, int after) throws Exception {
        MetricsContractIT.promtoolTest(String.join("\n",
                "      - series: 'erasure_verifications_total{job=\"cio-erasure-worker\", instance=\"localhost:" + port
                        + "\", outcome=\"STILL_PRESENT\", workspace=\"default\"}'",
                "        values: '" + before + "x4 " + after + "x10'",
                "    alert_rule_test:",
                "      - eval_time: 3m",
                "        alertname: ErasurePersonStillPresent",
                "        exp_alerts: []",
                "      - eval_time: 7m",
                "        alertname: ErasurePersonStillPresent",
                "        exp_alerts:",
                "          - exp_labels: { severity: critical, instance: \"localhost:" + port + "\", workspace: default }",
                "            exp_annotations:",
                "              summary: \"Customer.io workspace default still holds a person the worker on localhost:" + port
                        + " erased: the verification"
                        + " deadline passed (compliance incident)\"",
                "              runbook_url: https://docs.test/operations.md#erasurepersonstillpresent",
                ""));
    }

    /** A verification record as the worker writes it, for {@code request} (its body), due now. */
    private static org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]> verifyRecord(WorkerHarness h, String requestId,
                                                                                                 byte[] request) {
        org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]> r =
                new org.apache.kafka.clients.producer.ProducerRecord<>(h.topic + ".verify", null, request);
        r.headers().add(TopicHeaders.REQUEST_ID, requestId.getBytes(StandardCharsets.UTF_8));
        r.headers().add(TopicHeaders.VERIFY_DEADLINE, Long.toString(System.currentTimeMillis() + 60_000).getBytes(StandardCharsets.UTF_8));
        return r;
    }

    @Test
    void aVerificationRecordTheAuditTableDoesNotBackWritesNoRowAndDoesNotTakeTheRealOnesPlace() throws Exception {
        sandbox.enableAppApi(APP_KEY, Duration.ZERO); // the App API finds nobody: any check would say VERIFIED
        try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl())
                .verification(verification(Duration.ofMillis(200), Duration.ofSeconds(20)))) {
            h.start();
            int port = h.runtime().metricsPort();
            // Written by someone other than the worker, in the worker's format: a request never
            // made, and a request about to be made, but for someone else than the one it erases.
            h.send(verifyRecord(h, "f-never", Messages.request("f-never", "email", "nobody@example.com")));
            h.send(verifyRecord(h, "f-real", Messages.request("f-real", "email", "someone-else@example.com")));
            await().atMost(Duration.ofSeconds(30)).until(() -> MetricsContractIT.scrape(port)
                    .matches("(?s).*\\nerasure_verification_checks_total\\{[^}]*result=\"ignored\"[^}]*\\} 2\\.0\\n.*"));
            assertThat(sandbox.appCalls()).as("no look-up for a record the audit table does not back").isZero();
            assertThat(verifications(h)).isEmpty();

            h.send(Messages.request("f-real", "email", "jane@example.com"));
            await().atMost(Duration.ofSeconds(30)).until(() -> verifications(h).containsKey("f-real"));
            assertThat(verifications(h)).containsOnlyKeys("f-real").containsEntry("f-real", "VERIFIED");
            assertThat(h.count("SELECT count(DISTINCT subject_hash) FROM audit_event WHERE request_id = 'f-real'"))
                    .as("the VERIFY row is about the person erased").isEqualTo(1);
        }
    }

    @Test
    void appApiErrorsUntilTheDeadlineLeaveTheErasureUnverifiable() throws Exception {
        sandbox.enableAppApi(APP_KEY, Duration.ZERO);
        sandbox.failAppApi(503, 10_000);
        try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl())
                .verification(verification(Duration.ofMillis(200), Duration.ofSeconds(3)))) {
            h.start();
            h.send(Messages.request("u-1", "id", "user-1"));
            await().atMost(Duration.ofSeconds(60)).until(() -> verifications(h).size() == 1);
            assertThat(verifications(h)).containsEntry("u-1", "UNVERIFIABLE");
            assertThat(h.rows().stream().filter(r -> "VERIFY".equals(r.get("step"))).findFirst().orElseThrow().get("reason"))
                    .asString().contains("no answer from the App API before the verification deadline", "http 503");
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'u-1' AND step = 'OUTCOME' AND outcome = 'COMPLETED'"))
                    .as("the erasure itself is unaffected").isEqualTo(1);
        }
    }

    /**
     * With CUSTOMERIO_APP_CONTROL_PERSON_ID a 404 counts only while the App API key finds that
     * person (a key of another workspace answers 404 for everyone). Here the control person is
     * erased first: no later 404 counts, each check ends UNVERIFIABLE and says why; the person
     * present again, the next erasure is VERIFIED.
     */
    @Test
    void a404CountsOnlyWhileTheKeyFindsTheControlPerson() throws Exception {
        sandbox.enableAppApi(APP_KEY, Duration.ZERO);
        Settings.Verification withControl = new Settings.Verification(Secret.of("CUSTOMERIO_APP_API_KEY", APP_KEY), sandbox.baseUrl(),
                TrackSandbox.APP_LIMIT_PER_SECOND, Duration.ofMillis(200), Duration.ofSeconds(4),
                Secret.of("CUSTOMERIO_APP_CONTROL_PERSON_ID", "qa-control"));
        try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl()).verification(withControl);
             dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            h.start();
            h.send(Messages.request("c-0", "id", "qa-control"));
            await().atMost(Duration.ofSeconds(60)).until(() -> verifications(h).size() == 1);
            h.send(Messages.request("c-1", "id", "user-1"));
            await().atMost(Duration.ofSeconds(60)).until(() -> verifications(h).size() == 2);
            assertThat(verifications(h)).containsEntry("c-0", "UNVERIFIABLE").containsEntry("c-1", "UNVERIFIABLE");
            assertThat(h.rows().stream().filter(r -> "VERIFY".equals(r.get("step"))).map(r -> String.valueOf(r.get("reason"))))
                    .allSatisfy(reason -> assertThat(reason).contains("404 not counted: the App API key does not find the control person"));
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("does not find the control person"
                    + " (CUSTOMERIO_APP_CONTROL_PERSON_ID)"));

            sandbox.keepPresent("qa-control");
            h.send(Messages.request("c-2", "id", "user-2"));
            await().atMost(Duration.ofSeconds(60)).until(() -> verifications(h).size() == 3);
            assertThat(verifications(h)).containsEntry("c-2", "VERIFIED");
            assertThat(logs.lines()).noneSatisfy(l -> assertThat(l).contains("qa-control"));
            assertThat(h.rows().toString()).doesNotContain("qa-control");
        }
    }

    @Test
    void withoutAnAppApiKeyEachCompletedRequestIsUnverifiableAndSaysWhy() throws Exception {
        try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl())) {
            h.start();
            h.send(Messages.request("n-1", "cio_id", "abc123"));
            await().atMost(Duration.ofSeconds(30)).until(() -> verifications(h).size() == 1);
            assertThat(verifications(h)).containsEntry("n-1", "UNVERIFIABLE");
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND reason LIKE 'no App API key configured%'"))
                    .isEqualTo(1);
            assertThat(sandbox.appCalls()).isZero();
        }
    }

    @Test
    void twoInstancesShareTheAppApiLimitAndNeverExceedIt() throws Exception {
        sandbox.enableAppApi(APP_KEY, Duration.ZERO);
        try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl())
                .verification(verification(Duration.ofMillis(100), Duration.ofMinutes(5)))) {
            h.start();
            try (WorkerRuntime second = h.startAnother("it-verify-second")) {
                await().atMost(Duration.ofSeconds(30)).until(() -> second.worker().assignedPartitions() > 0
                        && h.runtime().worker().assignedPartitions() > 0);
                for (int i = 0; i < 60; i++) {
                    h.send(("k" + i).getBytes(StandardCharsets.UTF_8), Messages.request("g-" + i, "id", "user-" + i));
                }
                await().atMost(Duration.ofSeconds(90)).until(() -> verifications(h).size() == 60);
                assertThat(verifications(h).values()).containsOnly("VERIFIED");
                List<String> instances = h.rows().stream().filter(r -> "VERIFY".equals(r.get("step")))
                        .map(r -> (String) r.get("worker_instance")).distinct().toList();
                assertThat(instances).as("both instances verified some").hasSize(2);
                assertThat(sandbox.appCalls()).isGreaterThanOrEqualTo(60);
                assertThat(sandbox.appOverWindow()).as("App API look-ups over 10 in any one-second window").isZero();
            }
        }
    }

    @Test
    void eachWorkspaceIsVerifiedWithItsOwnAppApiKeyAndAWorkspaceWithoutOneSaysSo() throws Exception {
        String euKey = "eu-app-api-key-0123456789";
        sandbox.enableAppApi(APP_KEY, Duration.ofMillis(200));
        try (TrackSandbox eu = new TrackSandbox(new TrackSandbox.Options("site-eu", "eu-track-key", 5, 0, 0.0));
             TrackSandbox staging = new TrackSandbox(new TrackSandbox.Options("site-st", "st-track-key", 5, 0, 0.0))) {
            eu.enableAppApi(euKey, Duration.ofMillis(200));
            Settings.Verification timing = verification(Duration.ofMillis(300), Duration.ofSeconds(20));
            Settings.CustomerIo us = new Settings.CustomerIo(WorkerHarness.SITE_ID, Secret.of("k", WorkerHarness.API_KEY),
                    Settings.Region.US, sandbox.baseUrl(), 100, 3, Duration.ofSeconds(2), Duration.ofSeconds(2)).withVerification(timing);
            Settings.CustomerIo euCio = new Settings.CustomerIo("site-eu", Secret.of("k", "eu-track-key"), Settings.Region.EU,
                    eu.baseUrl(), 100, 3, Duration.ofSeconds(2), Duration.ofSeconds(2))
                    .withVerification(new Settings.Verification(Secret.of("k", euKey), eu.baseUrl(), TrackSandbox.APP_LIMIT_PER_SECOND,
                            timing.firstCheckAfter(), timing.deadline()));
            Settings.CustomerIo stagingCio = new Settings.CustomerIo("site-st", Secret.of("k", "st-track-key"), Settings.Region.US,
                    staging.baseUrl(), 100, 3, Duration.ofSeconds(2), Duration.ofSeconds(2));
            try (WorkerHarness h = WorkerHarness.forStub(sandbox.baseUrl()).verification(timing)) {
                h.workspaces(List.of(new Settings.Workspace("us", us), new Settings.Workspace("eu", euCio),
                        new Settings.Workspace("staging", stagingCio)));
                h.start();
                for (int i = 0; i < 4; i++) {
                    h.send(Messages.request("mv-" + i, "email", "multi" + i + "@example.com"));
                }
                h.send(Messages.inWorkspaces("mv-eu", "email", "eu-only@example.com", "eu"));
                // 4 requests in 3 workspaces and 1 in eu alone
                await().atMost(Duration.ofSeconds(60)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY'") == 13);
                assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND outcome = 'VERIFIED' AND workspace = 'us'"))
                        .isEqualTo(4);
                assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND outcome = 'VERIFIED' AND workspace = 'eu'"))
                        .isEqualTo(5);
                assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND outcome = 'UNVERIFIABLE'"
                        + " AND workspace = 'staging' AND reason LIKE 'no App API key configured%'")).isEqualTo(4);
                assertThat(sandbox.appCalls()).as("the us checks went to us's App API").isBetween(4L, 12L);
                assertThat(eu.appCalls()).as("and eu's to eu's, with its own key").isBetween(5L, 15L);
                assertThat(sandbox.appOverWindow() + eu.appOverWindow()).isZero();
                String scrape = MetricsContractIT.scrape(h.runtime().metricsPort());
                assertThat(scrape).containsPattern("erasure_verifications_total\\{[^}]*outcome=\"VERIFIED\"[^}]*workspace=\"eu\"[^}]*\\} 5\\.0")
                        .containsPattern("erasure_app_ratelimit_calls_per_second\\{[^}]*workspace=\"eu\"");
            }
        }
    }
}
