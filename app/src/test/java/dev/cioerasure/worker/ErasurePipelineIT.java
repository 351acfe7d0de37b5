package dev.cioerasure.worker;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole pipeline against a real broker, a real PostgreSQL and WireMock standing in for
 * Customer.io: what goes in on the topic, what Customer.io receives, what the audit table holds.
 */
class ErasurePipelineIT {
    private static WireMockServer track;
    private WorkerHarness h;

    @BeforeAll
    static void startStub() {
        track = new WireMockServer(options().dynamicPort().containerThreads(120).jettyAcceptors(2));
        track.start();
    }

    @AfterAll
    static void stopStub() {
        track.stop();
    }

    @BeforeEach
    void setUp() throws Exception {
        track.resetAll();
        TrackStubs.healthy(track);
        h = WorkerHarness.forStub(URI.create(track.baseUrl()));
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    /** The erasure calls, first first (not the start's check of the URL with a made-up key: ConnectionErrorsIT). */
    private List<ServeEvent> callsInArrivalOrder() {
        List<ServeEvent> events = new ArrayList<>(track.getAllServeEvents());
        events.removeIf(e -> e.getRequest().getUrl().equals("/api/v1/accounts/region"));
        Collections.reverse(events);
        return events;
    }

    @Test
    void everyValidRequestIsSuppressedThenDestroyedOnceAndAuditedOnce() throws Exception {
        Map<String, String> expectedPaths = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            String id = "req-" + i;
            switch (i % 5) {
                case 0 -> { h.send(Messages.request(id, "email", "jane+" + i + "@example.com"));
                            expectedPaths.put(id, "jane%2B" + i + "%40example.com"); }
                case 1 -> { h.send(Messages.request(id, "id", "user/" + i + " x%"));
                            expectedPaths.put(id, "user%2F" + i + "%20x%25"); }
                case 2 -> { h.send(Messages.request(id, "cio_id", "a3000" + i));
                            expectedPaths.put(id, "cio_a3000" + i); }
                case 3 -> { h.send(Messages.request(id, "email", "zoë" + i + "@exämple.org"));
                            expectedPaths.put(id, "zo%C3%AB" + i + "%40ex%C3%A4mple.org"); }
                default -> { h.send(Messages.request(id, "id", "customer-" + i));
                             expectedPaths.put(id, "customer-" + i); }
            }
        }
        h.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 30);

        List<ServeEvent> calls = callsInArrivalOrder();
        assertThat(calls).hasSize(60);
        String auth = "Basic " + Base64.getEncoder().encodeToString(
                (WorkerHarness.SITE_ID + ":" + WorkerHarness.API_KEY).getBytes(StandardCharsets.UTF_8));
        for (ServeEvent e : calls) {
            assertThat(e.getRequest().getHeader("Authorization")).isEqualTo(auth);
        }
        for (String path : expectedPaths.values()) {
            List<String> forSubject = calls.stream()
                    .filter(e -> e.getRequest().getUrl().equals("/api/v1/customers/" + path + "/suppress")
                            || e.getRequest().getUrl().equals("/api/v1/customers/" + path))
                    .map(e -> e.getRequest().getMethod().getName())
                    .toList();
            assertThat(forSubject).as("calls for %s", path).containsExactly("POST", "DELETE");
        }
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(30);
        assertThat(h.count("SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'")).isEqualTo(30);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'SUPPRESS' AND outcome = 'SUCCEEDED' AND http_status = 200")).isEqualTo(30);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'DESTROY' AND outcome = 'SUCCEEDED' AND http_status = 200")).isEqualTo(30);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'VERIFY' AND outcome = 'UNVERIFIABLE' AND attempts = 0"))
                .as("without an App API key each completed request says it was not verified").isEqualTo(30);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE deadline_at = requested_at + interval '1 month'"))
                .as("five rows per request: suppress, destroy, its outcome in the workspace, verification, its own outcome").isEqualTo(150);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE' AND outcome = 'SUCCEEDED' AND workspace = 'default'"))
                .isEqualTo(30);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step IN ('SUPPRESS', 'DESTROY', 'VERIFY') AND workspace IS DISTINCT FROM 'default'"))
                .as("the single workspace is named default").isZero();
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND workspace IS NOT NULL")).isZero();
        assertThat(h.count("SELECT count(*) FROM erasure_request_status WHERE status = 'COMPLETED'")).isEqualTo(30);
    }

    @Test
    void retriesOn429HonouringRetryAfterThenCompletes() throws Exception {
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/slow%40example.com/suppress")).inScenario("429")
                .whenScenarioStateIs(Scenario.STARTED).willSetStateTo("limited")
                .willReturn(aResponse().withStatus(429).withHeader("Retry-After", "1").withBody("{}")));
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/slow%40example.com/suppress")).inScenario("429")
                .whenScenarioStateIs("limited").willReturn(okJson("{}")));
        h.send(Messages.request("r-429", "email", "slow@example.com"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);

        List<ServeEvent> suppress = callsInArrivalOrder().stream()
                .filter(e -> e.getRequest().getUrl().endsWith("/suppress")).toList();
        assertThat(suppress).hasSize(2);
        long gapMillis = suppress.get(1).getRequest().getLoggedDate().getTime() - suppress.get(0).getRequest().getLoggedDate().getTime();
        assertThat(gapMillis).as("waited for Retry-After: 1").isGreaterThanOrEqualTo(900);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'SUPPRESS' AND attempts = 2 AND outcome = 'SUCCEEDED'")).isEqualTo(1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED'")).isEqualTo(1);
    }

    @Test
    void aStormOf5xxIsRetriedWithBackoffThenCompletes() throws Exception {
        String path = "/api/v1/customers/storm-1";
        String state = Scenario.STARTED;
        for (int i = 1; i <= 3; i++) {
            track.stubFor(delete(urlPathEqualTo(path)).inScenario("storm").whenScenarioStateIs(state)
                    .willSetStateTo("failed-" + i).willReturn(aResponse().withStatus(i == 2 ? 502 : 503)));
            state = "failed-" + i;
        }
        track.stubFor(delete(urlPathEqualTo(path)).inScenario("storm").whenScenarioStateIs(state).willReturn(okJson("{}")));
        h.send(Messages.request("r-5xx", "id", "storm-1"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);

        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'DESTROY' AND attempts = 4 AND http_status = 200")).isEqualTo(1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED' AND request_id = 'r-5xx'")).isEqualTo(1);
    }

    @Test
    void refusedCredentialsPauseTheWorkerRaiseTheAlertAndARotatedKeyFileResumesIt() throws Exception {
        java.nio.file.Path keyFile = java.nio.file.Files.createTempFile("track-key", ".secret");
        java.nio.file.Files.writeString(keyFile, "revoked-key\n");
        h.apiKeyFile(keyFile).outagePause(Duration.ofSeconds(1));
        String newKey = "rotated-key-0123456789";
        String newAuth = "Basic " + Base64.getEncoder().encodeToString(
                (WorkerHarness.SITE_ID + ":" + newKey).getBytes(StandardCharsets.UTF_8));
        track.resetMappings();
        track.stubFor(any(anyUrl()).atPriority(10).willReturn(aResponse().withStatus(401).withBody("{\"meta\":{\"error\":\"Unauthorized\"}}")));
        track.stubFor(post(urlPathMatching("/api/v1/customers/[^/]+/suppress")).atPriority(1)
                .withHeader("Authorization", com.github.tomakehurst.wiremock.client.WireMock.equalTo(newAuth)).willReturn(okJson("{}")));
        track.stubFor(delete(urlPathMatching("/api/v1/customers/[^/]+")).atPriority(1)
                .withHeader("Authorization", com.github.tomakehurst.wiremock.client.WireMock.equalTo(newAuth)).willReturn(okJson("{}")));
        for (int i = 0; i < 10; i++) {
            h.send(Messages.request("r-401-" + i, "email", "locked" + i + "@example.com"));
        }
        h.start();
        var rejected = h.runtime().meters().get("erasure.credentials.rejected").gauge();
        await().atMost(Duration.ofSeconds(20)).until(() -> rejected.value() == 1.0);
        Thread.sleep(3000);
        int refusedCalls = track.getAllServeEvents().size();
        assertThat(h.outcomes()).as("nothing is failed for a credentials problem").isZero();
        // each in-flight request tries once, re-reads the key and tries once more; then only probes (~1/s)
        assertThat(refusedCalls).as("paused: probes, not calls per request and attempt").isLessThanOrEqualTo(2 * 10 + 6);
        Thread.sleep(2000);
        assertThat(track.getAllServeEvents().size() - refusedCalls).as("about one probe per second").isLessThanOrEqualTo(4);

        java.nio.file.Files.writeString(keyFile, newKey + "\n"); // rotate the mounted secret; no restart
        await().atMost(Duration.ofSeconds(20)).until(() -> h.outcomes() == 10);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(10);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'FAILED'")).isZero();
        assertThat(rejected.value()).isZero();
    }

    /**
     * Nothing listened at the Track URL when the worker started, so its check with a made-up key
     * got no answer and proved nothing, and what came up there then takes any key (a catch-all mock
     * started after the worker): before, every erasure went to it and was recorded COMPLETED with
     * nobody erased. Now no call goes to a URL until it has refused a made-up key: the workspace
     * pauses as for refused credentials, and its erasures go out once Customer.io answers there.
     */
    @Test
    void noErasureGoesToATrackUrlUntilItHasRefusedAMadeUpKey() throws Exception {
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }
        h.close();
        h = WorkerHarness.forStub(URI.create("http://localhost:" + port)).outagePause(Duration.ofSeconds(1))
                .retryDelays(Duration.ofSeconds(1));
        for (int i = 0; i < 3; i++) {
            h.send(Messages.request("r-url-" + i, "email", "late" + i + "@example.com"));
        }
        WireMockServer late = new WireMockServer(options().port(port));
        try (LogCapture logs = LogCapture.capture()) {
            h.start(); // the start's check: connection refused, the worker starts
            late.start();
            late.stubFor(any(anyUrl()).willReturn(okJson("{\"region\":\"us\"}"))); // takes any key
            var rejected = h.runtime().meters().get("erasure.credentials.rejected").gauge();
            await().atMost(Duration.ofSeconds(30)).until(() -> rejected.value() == 1.0);
            Thread.sleep(2000);
            assertThat(late.findAll(postRequestedFor(urlPathMatching("/api/v1/customers/.*")))).as("no suppress sent").isEmpty();
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome IN ('COMPLETED', 'SUCCEEDED')")).isZero();
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("TrackUrlWatch", "answered HTTP 200 to a credential check"
                    + " with a made-up key", "not Customer.io's Track API"));
            assertThat(h.runtime().meters().find("erasure.track.call").tag("status", "track_url_accepts_made_up_key").timers())
                    .as("the held-back calls, by their status").isNotEmpty().allSatisfy(t -> assertThat(t.count()).isPositive());

            // Customer.io there: a made-up key refused, the workspace's own taken
            String auth = "Basic " + Base64.getEncoder().encodeToString(
                    (WorkerHarness.SITE_ID + ":" + WorkerHarness.API_KEY).getBytes(StandardCharsets.UTF_8));
            late.resetMappings();
            late.stubFor(any(anyUrl()).atPriority(10).willReturn(aResponse().withStatus(401)));
            late.stubFor(any(anyUrl()).atPriority(1).withHeader("Authorization", com.github.tomakehurst.wiremock.client.WireMock.equalTo(auth))
                    .willReturn(okJson("{\"region\":\"us\"}")));
            await().atMost(Duration.ofSeconds(60)).until(() -> h.count(
                    "SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'") == 3);
            assertThat(late.findAll(postRequestedFor(urlPathMatching("/api/v1/customers/.*/suppress")))).hasSize(3);
            await().atMost(Duration.ofSeconds(10)).until(() -> rejected.value() == 0.0);
        } finally {
            late.stop();
        }
    }

    @Test
    void aTimeoutIsRetriedThenCompletes() throws Exception {
        h.close();
        h = new WorkerHarness(URI.create(track.baseUrl()), 1000, 5, Duration.ofMillis(500), 1);
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/timeout-1/suppress")).inScenario("timeout")
                .whenScenarioStateIs(Scenario.STARTED).willSetStateTo("fast")
                .willReturn(okJson("{}").withFixedDelay(2000)));
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/timeout-1/suppress")).inScenario("timeout")
                .whenScenarioStateIs("fast").willReturn(okJson("{}")));
        h.send(Messages.request("r-timeout", "id", "timeout-1"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);

        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'SUPPRESS' AND attempts = 2 AND outcome = 'SUCCEEDED'")).isEqualTo(1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED'")).isEqualTo(1);
    }

    @Test
    void malformedAndOversizeMessagesAreRejectedDeadLetteredAndTheWorkerCarriesOn() throws Exception {
        byte[] oversize = Messages.request("r-big", "id", "x".repeat(20_000));
        h.send("{not json".getBytes(StandardCharsets.UTF_8));
        h.send(oversize);
        h.send("{\"request_id\":\"r-unknown\",\"identifier\":{\"type\":\"email\",\"value\":\"a@example.com\"},\"regulation\":\"GDPR\","
                .concat("\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"desk\",\"name\":\"Jane\"}").getBytes(StandardCharsets.UTF_8));
        h.send("{\"request_id\":\"r-type\",\"identifier\":{\"type\":\"email\",\"value\":42},\"regulation\":\"GDPR\","
                .concat("\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"desk\"}").getBytes(StandardCharsets.UTF_8));
        h.send("{\"request_id\":\"r-missing\",\"regulation\":\"GDPR\"}".getBytes(StandardCharsets.UTF_8));
        h.send(new byte[] {(byte) 0xff, (byte) 0xfe, '{', '}'});
        h.send(Messages.request("r-good", "email", "good@example.com"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 7);

        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'REJECTED'")).isEqualTo(6);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'REJECTED' AND (reason IS NULL OR reason = '')")).isZero();
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED' AND request_id = 'r-good'")).isEqualTo(1);
        track.verify(1, postRequestedFor(urlPathMatching(".*/suppress")));

        List<ConsumerRecord<byte[], byte[]>> dlq = h.deadLetters(6, Duration.ofSeconds(15));
        assertThat(dlq).hasSize(6);
        assertThat(dlq).extracting(r -> header(r, "x-erasure-reason-code"))
                .containsExactlyInAnyOrder("MALFORMED_JSON", "OVERSIZE", "UNKNOWN_FIELD", "WRONG_TYPE", "MISSING_FIELD", "NOT_UTF8");
        ConsumerRecord<byte[], byte[]> big = dlq.stream().filter(r -> header(r, "x-erasure-reason-code").equals("OVERSIZE")).findFirst().orElseThrow();
        assertThat(big.value()).as("the original bytes are kept").isEqualTo(oversize);
        assertThat(header(big, "x-original-topic")).isEqualTo(h.topic);
        assertThat(header(big, "x-original-offset")).isEqualTo("1");
    }

    @Test
    void aRepeatedRequestIdIsRecordedAsDuplicateWithoutCallingCustomerIo() throws Exception {
        byte[] key = "same-subject".getBytes(StandardCharsets.UTF_8);
        h.send(key, Messages.request("r-dup", "email", "twice@example.com"));
        h.send(key, Messages.request("r-dup", "email", "twice@example.com"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 2);
        // and again later, after the first run is long durable
        h.send(key, Messages.request("r-dup", "email", "twice@example.com"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 3);

        track.verify(1, postRequestedFor(urlPathMatching(".*/suppress")));
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-dup' AND outcome = 'COMPLETED'")).isEqualTo(1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-dup' AND outcome = 'DUPLICATE'")).isEqualTo(2);

        // the same ticket later for another identifier: not a copy of the request, and not erased under its id
        h.send("other-subject".getBytes(StandardCharsets.UTF_8), Messages.request("r-dup", "email", "second@example.com"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 4);
        track.verify(1, postRequestedFor(urlPathMatching(".*/suppress")));
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-dup' AND outcome = 'REJECTED'"
                + " AND reason LIKE 'REQUEST_ID_REUSED: %' AND subject_hash IS NOT NULL")).isEqualTo(1);
        assertThat(h.deadLetters(1, Duration.ofSeconds(15))).singleElement()
                .satisfies(r -> assertThat(header(r, "x-erasure-reason-code")).isEqualTo("REQUEST_ID_REUSED"));
    }

    @Test
    void aWorkerStoppedAndRestartedMidStreamLosesNothingAndRecordsNoSecondOutcome() throws Exception {
        int total = 400;
        h.close();
        h = new WorkerHarness(URI.create(track.baseUrl()), 200, 5, Duration.ofSeconds(5), 3);
        for (int i = 0; i < total; i++) {
            h.send(Messages.request("r-restart-" + i, "id", "p-restart-" + i));
        }
        track.stubFor(post(urlPathMatching("/api/v1/customers/[^/]+/suppress")).willReturn(okJson("{}").withFixedDelay(20)));
        h.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() >= 80);
        h.stop();
        int afterFirst = h.outcomes();
        assertThat(afterFirst).isLessThan(total);
        h.start();
        await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == total);
        h.stop();

        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED')")).isEqualTo(total);
        assertThat(h.count("SELECT count(*) FROM (SELECT kafka_partition, kafka_offset FROM audit_event WHERE step = 'OUTCOME'"
                + " GROUP BY 1, 2 HAVING count(*) > 1) d")).isZero();
        Map<String, Long> suppressCalls = callsInArrivalOrder().stream()
                .filter(e -> e.getRequest().getUrl().endsWith("/suppress"))
                .collect(Collectors.groupingBy(e -> e.getRequest().getUrl(), Collectors.counting()));
        assertThat(suppressCalls).hasSize(total);
    }

    /**
     * Kafka's default group protocol, and the consumer protocol of KIP-848 (Kafka 4's, which an
     * operator may set with KAFKA_CLIENT_GROUP_PROTOCOL): its rebalances are incremental and run
     * by the broker, and the worker's commits and hand-over must hold under either.
     */
    @ParameterizedTest
    @ValueSource(strings = {"classic", "consumer"})
    void instancesJoiningAndLeavingTheGroupMidStreamLoseNothingAndRecordNoSecondOutcome(String groupProtocol) throws Exception {
        int total = 600;
        h.close();
        // slow enough (60 erasures/s) that the rebalance and the leave both happen mid-stream
        h = new WorkerHarness(dev.cioerasure.testing.TestInfra.kafka(), groupProtocol.equals("classic")
                ? dev.cioerasure.config.KafkaClientConfig.NONE
                : new dev.cioerasure.config.KafkaClientConfig(Map.of("group.protocol", groupProtocol), Map.of()),
                URI.create(track.baseUrl()), 120, 5, Duration.ofSeconds(5), 6);
        for (int i = 0; i < total; i++) {
            h.send(("k" + i).getBytes(StandardCharsets.UTF_8), Messages.request("r-rebalance-" + i, "id", "p-rebalance-" + i));
        }
        h.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() >= 100);
        try (var second = h.startAnother("it-second")) {
            // 6 request partitions + 6 retry partitions, split between the two
            await().atMost(Duration.ofSeconds(60)).until(() -> second.worker().assignedPartitions() == 6
                    && h.runtime().worker().assignedPartitions() == 6);
            int atRebalance = h.outcomes();
            assertThat(atRebalance).as("the rebalance happened mid-stream").isLessThan(total);
            try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(Map.of(
                    org.apache.kafka.clients.admin.AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, h.settings.kafka().bootstrapServers()))) {
                String group = h.settings.kafka().groupId();
                assertThat(admin.describeConsumerGroups(List.of(group)).all().get().get(group).type().toString())
                        .as("the group runs the protocol asked for").isEqualToIgnoringCase(groupProtocol);
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() >= atRebalance + 60);
            assertThat(h.outcomes()).as("the first instance leaves mid-stream").isLessThan(total - 100);
            h.stop(); // the first instance leaves: its partitions move to the second
            await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                    "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == total);
        }
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED')")).isEqualTo(total);
        assertThat(h.count("SELECT count(DISTINCT worker_instance) FROM audit_event")).isEqualTo(2);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome NOT IN ('COMPLETED', 'DUPLICATE')")).isZero();
    }

    @Test
    void noRawIdentifierReachesTheAuditTableOrTheLogs() throws Exception {
        List<String> emails = List.of("secret.person@example.com", "Another.One+tag@example.org");
        try (LogCapture logs = LogCapture.captureEveryLevel()) { // an operator may run with LOG_LEVEL=TRACE
            h.send(Messages.request("r-pii-1", "email", emails.get(0)));
            h.send(Messages.request("r-pii-2", "email", emails.get(1)));
            h.send(Messages.request("r-pii-3", "id", emails.get(0)));  // rejected: id that looks like an email
            h.send(("{\"request_id\":\"r-pii-4\",\"identifier\":{\"type\":\"email\",\"value\":\"" + emails.get(1) + "\"},"
                    + "\"regulation\":\"GDPR\",\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"desk\","
                    + "\"" + emails.get(0) + "\":\"x\"}").getBytes(StandardCharsets.UTF_8));
            // References built from the person: a request id that is the email, one that holds the
            // customer id, a requested_by that names it. Each is refused before any of it is kept.
            h.send(Messages.request(emails.get(0), "email", emails.get(0)));
            h.send(Messages.request("erase-User-8812-0042", "id", "user-8812-0042"));
            h.send(new String(Messages.request("r-pii-7", "id", "user-8812-0042"), StandardCharsets.UTF_8)
                    .replace("\"requested_by\":\"", "\"requested_by\":\"for user-8812-0042 ").getBytes(StandardCharsets.UTF_8));
            track.stubFor(post(urlPathEqualTo("/api/v1/customers/another.one%2Btag%40example.org/suppress"))
                    .willReturn(aResponse().withStatus(400).withBody("{\"meta\":{\"error\":\"bad Another.One+tag@example.org\"}}")));
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 7);
            h.stop();

            String deadLetterHeaders = h.deadLetters(6, Duration.ofSeconds(30)).stream()
                    .map(r -> java.util.Arrays.toString(r.headers().toArray())).reduce("", String::concat);
            String everything = h.rows().toString() + "\n" + String.join("\n", logs.lines()) + "\n" + deadLetterHeaders;
            for (String email : emails) {
                assertThat(everything).doesNotContainIgnoringCase(email);
                assertThat(everything).doesNotContainIgnoringCase(email.substring(0, email.indexOf('@')));
            }
            assertThat(everything).doesNotContainIgnoringCase("user-8812-0042");
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'REJECTED' AND request_id IS NULL"))
                    .as("the two request ids that name the person are not kept").isEqualTo(2);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-pii-7' AND outcome = 'REJECTED'")).isEqualTo(1);
            track.verify(0, postRequestedFor(urlPathEqualTo("/api/v1/customers/user-8812-0042/suppress")));
            assertThat(everything).doesNotContain(WorkerHarness.API_KEY).doesNotContain(WorkerHarness.AUDIT_KEY);
            assertThat(logs.lines()).anyMatch(l -> l.contains("r-pii-3"));
            assertThat(logs.lines()).as("DEBUG lines were captured too").anyMatch(l -> l.contains("request r-pii-1 at"));
        }
    }

    @Test
    void metricsAndHealthAreServedWithoutIdentifiers() throws Exception {
        h.send(Messages.request("r-metrics", "email", "metric.person@example.com"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);
        var http = java.net.http.HttpClient.newHttpClient();
        int port = h.runtime().metricsPort();
        String metrics = http.send(java.net.http.HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/metrics")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("erasure_requests_total{application=\"cio-erasure\",outcome=\"COMPLETED\"} 1.0");
        assertThat(metrics).contains("erasure_track_call_seconds_count", "operation=\"suppress\"", "status=\"200\"");
        assertThat(metrics).contains("resilience4j_ratelimiter_available_permissions", "resilience4j_retry_calls_total");
        assertThat(metrics).contains("erasure_audit_write_seconds_count", "erasure_in_flight", "hikaricp_connections",
                "kafka_consumer_fetch_manager_fetch_latency_avg", "erasure_backlog_records", "jvm_memory_used_bytes");
        assertThat(metrics).doesNotContain("records_lag");
        assertThat(metrics).doesNotContain("metric.person").doesNotContain("r-metrics");
        await().atMost(Duration.ofSeconds(10)).until(() -> http.send(
                java.net.http.HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/health/ready")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
        assertThat(http.send(java.net.http.HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/health/live")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
