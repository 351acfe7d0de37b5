package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.metrics.MetricsContractIT;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three workspaces (two US, one EU), each its own strict sandbox: one is down for a while, one
 * refuses its key until the key file is rotated. Every request is erased in all three, once each,
 * with one final outcome; the healthy workspace keeps its pace meanwhile.
 */
class WorkspacesIT {
    private static final int LIMIT = 40; // Track calls per second, per workspace
    private static final int REQUESTS = 300;

    private TrackSandbox usA;
    private TrackSandbox usB;
    private TrackSandbox eu;

    @TempDir
    Path dir;

    @BeforeEach
    void sandboxes() throws Exception {
        usA = sandbox("site-us-a", "key-us-a");
        usB = sandbox("site-us-b", "key-us-b");
        eu = sandbox("site-eu", "key-eu");
    }

    private static TrackSandbox sandbox(String site, String key) throws Exception {
        return new TrackSandbox(new TrackSandbox.Options(site, key, 5, LIMIT, 0.0, true, TrackSandbox.Limit.SLIDING_WINDOW));
    }

    @AfterEach
    void stop() {
        usA.close();
        usB.close();
        eu.close();
    }

    private static Settings.Workspace workspace(String name, TrackSandbox s, String site, Secret key, Settings.Region region) {
        return new Settings.Workspace(name, new Settings.CustomerIo(site, key, region, s.baseUrl(), LIMIT, 2, Duration.ofSeconds(2),
                Duration.ofSeconds(2), Duration.ofSeconds(2)));
    }

    /** Accepted calls per identifier and operation: each must be exactly one. */
    private static Map<String, Long> accepted(TrackSandbox s) {
        return s.calls().stream().filter(c -> c.status() == 200 && c.identifier() != null)
                .collect(Collectors.groupingBy(c -> c.operation() + " " + c.identifier(), Collectors.counting()));
    }

    private static long acceptedBetween(TrackSandbox s, long fromNanos, long toNanos) {
        return s.calls().stream().filter(c -> c.status() == 200 && c.atNanos() >= fromNanos && c.atNanos() < toNanos).count();
    }

    @Test
    void everyPersonIsErasedOnceInEveryWorkspaceThroughAnOutageAndARevokedKey() throws Exception {
        Path euKey = Files.writeString(dir.resolve("eu.key"), "a-revoked-key");
        usB.down(true);
        try (WorkerHarness h = WorkerHarness.forStub(usA.baseUrl()).worker(64, Duration.ofMinutes(10))
                .retryDelays(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1),
                        Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1))
                .workspaces(List.of(
                        workspace("us-a", usA, "site-us-a", Secret.of("k", "key-us-a"), Settings.Region.US),
                        workspace("us-b", usB, "site-us-b", Secret.of("k", "key-us-b"), Settings.Region.US),
                        workspace("eu", eu, "site-eu", Secret.fromFile("eu key file", euKey), Settings.Region.EU)))) {
            h.start();
            for (int i = 0; i < REQUESTS; i++) {
                h.send(Messages.request("w-" + i, "id", "person-" + i));
            }
            long start = System.nanoTime();
            Thread.sleep(3_000);
            String during = MetricsContractIT.scrape(h.runtime().metricsPort());
            assertThat(during).as("the alerts can say which workspace")
                    .containsPattern("erasure_credentials_rejected\\{[^}]*workspace=\"eu\"[^}]*} 1\\.0")
                    .containsPattern("erasure_credentials_rejected\\{[^}]*workspace=\"us-a\"[^}]*} 0\\.0")
                    // us-b's breaker has tripped: open, or half-open when its 2 s open period has just run
                    // out and it probes (a loaded machine reaches that before the scrape)
                    .containsPattern("resilience4j_circuitbreaker_state\\{[^}]*name=\"customerio-track\"[^}]*state=\"(open|half_open)\""
                            + "[^}]*workspace=\"us-b\"[^}]*} 1\\.0");
            Thread.sleep(3_000);
            Files.writeString(euKey, "key-eu"); // the rotated key: the gate's next probe reads it
            Thread.sleep(2_000);
            long outageEnd = System.nanoTime();
            usB.down(false);

            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofSeconds(1)).until(() ->
                    h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'") >= REQUESTS);

            // Measured: us-a's pace while us-b was down and eu refused its key (the first second is the start-up).
            long from = start + Duration.ofSeconds(1).toNanos();
            double pace = acceptedBetween(usA, from, outageEnd) / ((outageEnd - from) / 1e9) / LIMIT;
            Cli.report("WorkspacesIT: us-a made %.3f of its limit (%d calls/s) while us-b was down and eu refused its key%n",
                    pace, LIMIT);
            assertThat(pace).as("the healthy workspace keeps its pace").isGreaterThan(0.85);

            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'"))
                    .as("one final outcome per request").isEqualTo(REQUESTS);
            assertThat(h.count("SELECT count(DISTINCT request_id) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'"))
                    .isEqualTo(REQUESTS);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome IN ('FAILED', 'DUPLICATE', 'REJECTED')"))
                    .isZero();
            for (String w : List.of("us-a", "us-b", "eu")) {
                assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE' AND outcome = 'SUCCEEDED' AND workspace = ?", w))
                        .as("erased in %s", w).isEqualTo(REQUESTS);
            }
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'RETRY_SCHEDULED'"))
                    .as("requests waited for the paused workspaces").isPositive();
            for (TrackSandbox s : List.of(usA, usB, eu)) {
                Map<String, Long> once = accepted(s);
                assertThat(once).hasSize(2 * REQUESTS);
                assertThat(once.values()).as("exactly one accepted suppress and one destroy per person").containsOnly(1L);
                assertThat(s.overWindow()).as("no call over the strict window at %s (us-a %s, us-b %s, eu %s)", s.baseUrl(), usA.baseUrl(),
                        usB.baseUrl(), eu.baseUrl()).isZero();
            }
            assertThat(h.rows().toString()).doesNotContain("person-");
        }
    }

    /**
     * Workspace us-b's key file rewritten while the worker runs to name us-a's site id and key (a
     * copy of the wrong secret): its erasures were made in us-a and recorded SUCCEEDED in us-b,
     * which kept the person. Its calls are held back now: nothing is sent as us-b, us-b stays
     * paused with its alert's gauge, and us-a goes on.
     */
    @Test
    void aKeyFileRewrittenToAnotherWorkspacesSiteIdSendsNothing() throws Exception {
        Path bKey = Files.writeString(dir.resolve("us-b.key"), "key-us-b-refused-here");
        try (WorkerHarness h = WorkerHarness.forStub(usA.baseUrl()).worker(64, Duration.ofMinutes(10))
                .retryDelays(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1))
                .workspaces(List.of(
                        workspace("us-a", usA, "site-us-a", Secret.of("k", "key-us-a"), Settings.Region.US),
                        // at us-a's URL, which refuses us-b's own credentials: us-b is paused from the start
                        workspace("us-b", usA, "site-us-b", Secret.fromFile("us-b key file", bKey), Settings.Region.US)));
             dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            h.start();
            h.send(Messages.request("k-1", "id", "person-k1"));
            await().atMost(Duration.ofSeconds(60)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE'"
                    + " AND outcome = 'SUCCEEDED' AND workspace = 'us-a'") == 1);
            Files.writeString(bKey, "site-us-a:key-us-a"); // us-a's credentials, in us-b's file
            Thread.sleep(8_000); // the credential gate's probes (every 2 s) find the file changed
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE' AND workspace = 'us-b'"))
                    .as("nothing recorded for us-b").isZero();
            assertThat(usA.calls().stream().filter(c -> "person-k1".equals(c.identifier()) && c.status() == 200).count())
                    .as("us-a's suppress and destroy only: nothing sent as us-b with us-a's credentials").isEqualTo(2);
            String scrape = MetricsContractIT.scrape(h.runtime().metricsPort());
            assertThat(scrape).containsPattern("erasure_credentials_rejected\\{[^}]*workspace=\"us-b\"[^}]*} 1\\.0")
                    .containsPattern("erasure_credentials_rejected\\{[^}]*workspace=\"us-a\"[^}]*} 0\\.0")
                    .containsPattern("erasure_track_call_seconds_count\\{[^}]*status=\"site_id_of_another_workspace\"[^}]*workspace=\"us-b\"");
            assertThat(logs.lines().stream().filter(l -> l.contains("the Track key file of workspace us-b now names site id site-us-a, the"
                    + " one workspace us-a calls at"))).as("said once").hasSize(1);
            assertThat(logs.lines()).noneSatisfy(l -> assertThat(l).contains("key-us-a"));

            h.send(Messages.request("k-2", "id", "person-k2"));
            await().atMost(Duration.ofSeconds(60)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE'"
                    + " AND outcome = 'SUCCEEDED' AND workspace = 'us-a'") == 2);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE' AND workspace = 'us-b'")).isZero();
        }
    }
}
