package dev.cioerasure.worker;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Transient failures that outlast the in-line retries are parked on the retry topic, off the hot path. */
class RetryRoundsIT {
    private static WireMockServer track;
    private WorkerHarness h;

    @BeforeAll
    static void startStub() {
        track = new WireMockServer(options().dynamicPort().containerThreads(60));
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
        h = new WorkerHarness(URI.create(track.baseUrl()), 1000, 2, Duration.ofSeconds(5), 1);
        h.retryDelays(Duration.ofSeconds(2), Duration.ofSeconds(2));
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        var v = r.headers().lastHeader(name);
        return v == null ? null : new String(v.value(), StandardCharsets.UTF_8);
    }

    @Test
    void aRequestThatKeepsFailingIsParkedWhileTheRestFlowsThenCompletesInALaterRound() throws Exception {
        String path = "/api/v1/customers/flaky-1";
        // 2 in-line attempts fail (round 0), then round 1 succeeds
        track.stubFor(delete(urlPathEqualTo(path)).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
                .willSetStateTo("one").willReturn(aResponse().withStatus(503)));
        track.stubFor(delete(urlPathEqualTo(path)).inScenario("flaky").whenScenarioStateIs("one")
                .willSetStateTo("ok").willReturn(aResponse().withStatus(503)));
        track.stubFor(delete(urlPathEqualTo(path)).inScenario("flaky").whenScenarioStateIs("ok").willReturn(okJson("{}")));
        h.send(Messages.request("r-flaky", "id", "flaky-1"));
        for (int i = 0; i < 20; i++) {
            h.send(Messages.request("r-behind-" + i, "id", "p-behind-" + i));
        }
        h.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id LIKE 'r-behind-%' AND outcome = 'COMPLETED'") == 20
                && h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-flaky' AND outcome = 'RETRY_SCHEDULED'") == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-flaky' AND outcome = 'COMPLETED'"))
                .as("the flaky request is still parked while everything behind it is done").isZero();
        assertThat(h.count("SELECT count(*) FROM erasure_open_requests WHERE status = 'RETRY_SCHEDULED'")).isEqualTo(1);

        await().atMost(Duration.ofSeconds(20)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-flaky' AND outcome = 'COMPLETED'") == 1);
        try (var c = h.db.getConnection(); var st = c.createStatement();
             var rs = st.executeQuery("SELECT max(occurred_at) FILTER (WHERE outcome = 'COMPLETED') - max(occurred_at) FILTER"
                     + " (WHERE outcome = 'RETRY_SCHEDULED') FROM audit_event WHERE request_id = 'r-flaky'")) {
            rs.next();
            assertThat(((org.postgresql.util.PGInterval) rs.getObject(1)).getSeconds()).as("waited for the retry round")
                    .isGreaterThanOrEqualTo(1.9);
        }
        List<ConsumerRecord<byte[], byte[]>> parked = h.read(h.topic + ".retry", 1, Duration.ofSeconds(10));
        assertThat(parked).hasSize(1);
        assertThat(header(parked.get(0), "x-erasure-retry-round")).isEqualTo("1");
        assertThat(header(parked.get(0), "x-original-topic")).isEqualTo(h.topic);
        assertThat(header(parked.get(0), "x-erasure-not-before")).isNotNull();
        assertThat(h.count("SELECT count(*) FROM erasure_open_requests")).isZero();
    }

    @Test
    void afterTheLastRoundARequestFailsAndIsDeadLettered() throws Exception {
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/down-1/suppress")).willReturn(aResponse().withStatus(500)));
        h.send(Messages.request("r-down", "id", "down-1"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-down' AND outcome = 'FAILED' AND step = 'OUTCOME'") == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-down' AND outcome = 'RETRY_SCHEDULED'")).isEqualTo(2);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-down' AND outcome = 'FAILED' AND step = 'OUTCOME'"
                + " AND reason LIKE '%gave up after 2 retry rounds%'")).isEqualTo(1);
        track.verify(0, deleteRequestedFor(urlPathEqualTo("/api/v1/customers/down-1")));
        List<ConsumerRecord<byte[], byte[]>> dlq = h.deadLetters(1, Duration.ofSeconds(10));
        assertThat(dlq).hasSize(1);
        assertThat(header(dlq.get(0), "x-erasure-reason-code")).isEqualTo("RETRIES_EXHAUSTED");
        assertThat(header(dlq.get(0), "x-original-offset")).isEqualTo("0");
        assertThat(h.count("SELECT count(*) FROM erasure_open_requests WHERE status = 'FAILED'")).isEqualTo(1);
    }

    @Test
    void aPermanentFailureFailsAtOnceWithoutRetryRounds() throws Exception {
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/bad-1/suppress")).willReturn(aResponse().withStatus(400)));
        h.send(Messages.request("r-bad", "id", "bad-1"));
        h.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> h.outcomes() == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'FAILED' AND step = 'OUTCOME' AND http_status = 400")).isEqualTo(1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'RETRY_SCHEDULED'")).isZero();
    }

}
