package dev.cioerasure.worker;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TcpProxy;
import dev.cioerasure.testing.TestInfra;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Breaks things on purpose in a real run and checks, at the end: every request has exactly one
 * COMPLETED outcome, suppress came before destroy for every subject, and the worker is healthy.
 */
class FaultsIT {
    private static WireMockServer track;
    private WorkerHarness h;

    @BeforeAll
    static void startStub() {
        track = new WireMockServer(options().dynamicPort().containerThreads(80));
        track.start();
    }

    @AfterAll
    static void stopStub() {
        track.stop();
    }

    @BeforeEach
    void healthyStub() {
        track.resetAll();
        healthy();
    }

    private static void healthy() {
        track.resetMappings();
        track.stubFor(post(urlPathMatching("/api/v1/customers/[^/]+/suppress")).willReturn(okJson("{}").withFixedDelay(10)));
        track.stubFor(delete(urlPathMatching("/api/v1/customers/[^/]+")).willReturn(okJson("{}").withFixedDelay(10)));
    }

    @AfterEach
    void tearDown() {
        if (h != null) {
            h.close();
        }
    }

    private void sendRequests(String prefix, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            h.send(Messages.request(prefix + i, "id", prefix + "subject-" + i));
        }
    }

    private void assertEveryRequestCompletedOnceInOrder(String prefix, int n) throws Exception {
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(n);
        assertThat(h.count("SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'")).isEqualTo(n);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'FAILED'")).isZero();
        // per subject: the first successful suppress came before every destroy
        Map<String, Integer> firstSuppress = new HashMap<>();
        List<ServeEvent> events = new java.util.ArrayList<>(track.getAllServeEvents());
        java.util.Collections.reverse(events);
        for (int i = 0; i < events.size(); i++) {
            ServeEvent e = events.get(i);
            String url = e.getRequest().getUrl();
            if (url.endsWith("/suppress") && e.getResponse().getStatus() == 200) {
                firstSuppress.putIfAbsent(url.substring(0, url.length() - "/suppress".length()), i);
            }
        }
        for (int i = 0; i < events.size(); i++) {
            ServeEvent e = events.get(i);
            if (e.getRequest().getMethod().getName().equals("DELETE")) {
                Integer s = firstSuppress.get(e.getRequest().getUrl());
                assertThat(s).as("suppress before destroy for %s", e.getRequest().getUrl()).isNotNull().isLessThan(i);
            }
        }
        assertThat(h.runtime().worker().notReadyReason()).as("why the worker is not ready").isEmpty();
    }

    /** A worker with n requests under way (at least {@code done} finished), whose retry rounds outlast an outage of seconds. */
    private void underWay(String prefix, int n, int done) throws Exception {
        h = new WorkerHarness(URI.create(track.baseUrl()), 400, 3, Duration.ofSeconds(2), 3);
        // retry rounds that outlast the outage, as the production defaults (1 min … 8 h) do
        h.outagePause(Duration.ofSeconds(2)).retryDelays(Duration.ofSeconds(3), Duration.ofSeconds(10), Duration.ofSeconds(20));
        sendRequests(prefix, n);
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() >= done);
    }

    @Test
    void customerIoDownForAWhileCostsProbesNotFailuresAndTheWorkerCatchesUp() throws Exception {
        int n = 300;
        underWay("r-down-", n, 40);
        // the outage overrides the healthy stubs (no gap in which WireMock would answer 404)
        var outage = track.stubFor(any(anyUrl()).atPriority(1).willReturn(aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER)));
        int before = track.getAllServeEvents().size();
        long outageStart = System.nanoTime();
        Thread.sleep(8_000);
        int failedCalls = track.getAllServeEvents().size() - before;
        int doneDuringOutage = h.outcomes();
        track.removeStub(outage);
        long recoverStart = System.nanoTime();
        await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
        Cli.report("[faults] customer.io outage 8 s: %d calls made during it, %d requests pending, recovered in %.1f s%n",
                failedCalls, n - doneDuringOutage, (System.nanoTime() - recoverStart) / 1e9);
        assertThat(failedCalls).as("an outage costs probes, not one call per pending request and attempt")
                .isLessThan(n - doneDuringOutage);
        assertEveryRequestCompletedOnceInOrder("r-down-", n);
        assertThat(outageStart).isPositive();
    }

    /**
     * A 3xx answers every call alike (a base URL on http://, a proxy in the way): it was taken
     * as a permanent refusal, so each request in flight ended FAILED and on the DLQ. It is an
     * outage now: the calls wait behind the breaker, and everything completes once it is gone.
     */
    @Test
    void aRedirectForEveryCallPausesErasuresInsteadOfFailingThem() throws Exception {
        int n = 150;
        underWay("r-moved-", n, 20);
        var moved = track.stubFor(any(anyUrl()).atPriority(1).willReturn(aResponse().withStatus(301)
                .withHeader("Location", "https://elsewhere.example/api/v1/customers")));
        await().atMost(Duration.ofSeconds(20)).until(() -> track.getAllServeEvents().stream()
                .filter(e -> e.getResponse().getStatus() == 301).count() >= 10);
        Thread.sleep(4_000);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step IN ('OUTCOME', 'WORKSPACE') AND outcome = 'FAILED'"))
                .as("no request failed for a redirect").isZero();
        track.removeStub(moved);
        await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
        assertEveryRequestCompletedOnceInOrder("r-moved-", n);
    }

    @Test
    void a429StormSlowsTheWholeWorkerDownAndEverythingCompletes() throws Exception {
        // A sandbox that allows 40 calls/s while the worker is configured for 400: Customer.io says no, a lot.
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(WorkerHarness.SITE_ID, WorkerHarness.API_KEY, 5, 40, 0))) {
            h = new WorkerHarness(sandbox.baseUrl(), 400, 5, Duration.ofSeconds(2), 3);
            h.retryDelays(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1));
            int n = 150;
            sendRequests("r-429-", n);
            long start = System.nanoTime();
            h.start();
            await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                    "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
            double seconds = (System.nanoTime() - start) / 1e9;
            Cli.report("[faults] 429 storm: %d accepted, %d throttled (%.0f %%), %.1f s for %d erasures%n",
                    sandbox.accepted(), sandbox.throttled(), 100.0 * sandbox.throttled() / (sandbox.accepted() + sandbox.throttled()),
                    seconds, n);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(n);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'FAILED'")).isZero();
            assertThat(sandbox.throttled()).as("the worker backs off rather than hammering: far fewer 429s than successes")
                    .isLessThan(sandbox.accepted());
        }
    }

    @Test
    void postgresDownForAWhilePausesWorkAndLosesNothing() throws Exception {
        try (TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            // 100 calls/s: 50 erasures/s, so the outage lands in the middle of the run
            h = new WorkerHarness(URI.create(track.baseUrl()), 100, 5, Duration.ofSeconds(5), 3);
            String direct = h.settings.database().url();
            h.databaseUrl(proxy.route(direct));
            int n = 300;
            sendRequests("r-pg-", n);
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() >= 50);
            proxy.cut();
            int callsAtCut = track.getAllServeEvents().size();
            await().atMost(Duration.ofSeconds(15)).until(() -> !h.runtime().worker().isReady());
            Thread.sleep(5_000);
            int callsDuringOutage = track.getAllServeEvents().size() - callsAtCut;
            assertThat(ready(h.runtime().metricsPort())).isEqualTo(503);
            proxy.restore();
            long recoverStart = System.nanoTime();
            await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                    "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
            await().atMost(Duration.ofSeconds(15)).until(() -> h.runtime().worker().isReady());
            Cli.report("[faults] postgres outage ~6 s: %d Customer.io calls during it (bounded by in-flight), recovered in %.1f s%n",
                    callsDuringOutage, (System.nanoTime() - recoverStart) / 1e9);
            assertThat(callsDuringOutage).as("work pauses: at most the in-flight requests finish their calls")
                    .isLessThanOrEqualTo(2 * h.settings.worker().maxInFlight() * 2);
            assertEveryRequestCompletedOnceInOrder("r-pg-", n);
            assertThat(ready(h.runtime().metricsPort())).isEqualTo(200);
        }
    }

    /**
     * A failover: the old primary's address stops answering without closing anything, and new
     * connections reach the new primary. A connection waiting for an answer waited for good (the
     * driver's default has no read timeout; over a real network, until TCP gives up, about 15
     * minutes on Linux), and with it the audit writer and every request in flight. The worker's
     * connections now give up on an answer after DATABASE_URL's socketTimeout (120 s unless the URL
     * sets it; 5 s here), and the writer writes the batch again on a new connection.
     */
    @Test
    void aDatabaseThatStopsAnsweringOnOpenConnectionsCostsTheSocketTimeoutNotTheRun() throws Exception {
        try (TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            h = new WorkerHarness(URI.create(track.baseUrl()), 100, 5, Duration.ofSeconds(5), 3);
            String direct = h.settings.database().url();
            h.databaseUrl(proxy.route(direct)
                    + (direct.contains("?") ? "&" : "?") + "socketTimeout=5");
            int n = 200;
            sendRequests("r-hang-", n);
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() >= 40);
            proxy.hangOpenConnections();
            long hungAt = System.nanoTime();
            await().atMost(Duration.ofSeconds(60)).until(() -> h.count(
                    "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
            Cli.report("[faults] open database connections hung (failover): every request completed %.1f s later%n",
                    (System.nanoTime() - hungAt) / 1e9);
            await().atMost(Duration.ofSeconds(15)).until(() -> h.runtime().worker().isReady());
            assertEveryRequestCompletedOnceInOrder("r-hang-", n);
        }
    }

    /**
     * A statement that waits longer than the socket timeout for a lock (a migration, a DBA's
     * LOCK TABLE) is given up and written again; the abandoned session writes nothing, since the
     * connection it answers is gone, so every request is recorded once.
     */
    @Test
    void anAppendThatWaitsForALockLongerThanTheSocketTimeoutIsWrittenAgainAndOnlyOnce() throws Exception {
        h = new WorkerHarness(URI.create(track.baseUrl()), 100, 5, Duration.ofSeconds(5), 3);
        String direct = h.settings.database().url();
        h.databaseUrl(direct + (direct.contains("?") ? "&" : "?") + "socketTimeout=2");
        int n = 150;
        sendRequests("r-lock-", n);
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() >= 20);
        try (java.sql.Connection dba = TestInfra.dataSource(h.ownerDatabase()).getConnection()) {
            dba.setAutoCommit(false);
            dba.createStatement().execute("LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE");
            int before = h.outcomes();
            Thread.sleep(7_000); // three socket timeouts and more
            assertThat(h.outcomes()).as("nothing is appended while the table is locked").isEqualTo(before);
            dba.commit();
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> h.count(
                "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
        await().atMost(Duration.ofSeconds(15)).until(() -> h.runtime().worker().isReady());
        assertEveryRequestCompletedOnceInOrder("r-lock-", n);
    }

    private static int ready(int port) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/health/ready")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode();
    }

}
