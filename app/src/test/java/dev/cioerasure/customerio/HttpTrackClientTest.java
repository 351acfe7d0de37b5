package dev.cioerasure.customerio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.deleteRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.config.Secret;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.testing.TestInfra;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HttpTrackClientTest {
    private static WireMockServer server;
    private TrackClient client;

    @BeforeAll
    static void start() {
        server = new WireMockServer(options().dynamicPort());
        server.start();
    }

    @AfterAll
    static void stop() {
        server.stop();
    }

    @BeforeEach
    void reset() {
        server.resetAll();
        client = TrackClient.http(new TrackEndpoint(URI.create(server.baseUrl()), "site", Secret.of("K", "key"),
                Duration.ofSeconds(1), Duration.ofMillis(500)), Clock.systemUTC());
    }

    @Test
    void suppressPostsToTheEncodedPathWithBasicAuth() {
        server.stubFor(post(urlPathEqualTo("/api/v1/customers/a%2Bb%40example.com/suppress")).willReturn(okJson("{}")));
        TrackResult r = client.suppress(Identifier.email("a+b@example.com"));
        assertThat(r.isSuccess()).isTrue();
        assertThat(r.status()).isEqualTo(200);
        server.verify(postRequestedFor(urlPathEqualTo("/api/v1/customers/a%2Bb%40example.com/suppress"))
                .withHeader("Authorization", equalTo("Basic c2l0ZTprZXk=")));
    }

    @Test
    void aKeyWrittenWithItsOwnSiteIdIsCalledAsThatSiteARotatedSetInOneFile(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("track-key"), "old-key\n");
        Secret key = Secret.fromFile("CUSTOMERIO_TRACK_API_KEY_FILE", file);
        TrackClient rotating = TrackClient.http(new TrackEndpoint(URI.create(server.baseUrl()), "site-1", key,
                Duration.ofSeconds(1), Duration.ofSeconds(1)), Clock.systemUTC());
        server.stubFor(delete(urlPathEqualTo("/api/v1/customers/x")).willReturn(okJson("{}")));
        assertThat(rotating.destroy(Identifier.id("x")).isSuccess()).isTrue();
        // Customer.io's new credential set has its own site id: both go into the file at once
        java.nio.file.Files.writeString(file, "site-2:new-key\n");
        key.forceRefresh();
        assertThat(rotating.destroy(Identifier.id("x")).isSuccess()).isTrue();
        server.verify(deleteRequestedFor(urlPathEqualTo("/api/v1/customers/x"))
                .withHeader("Authorization", equalTo("Basic " + java.util.Base64.getEncoder().encodeToString("site-1:old-key".getBytes()))));
        server.verify(deleteRequestedFor(urlPathEqualTo("/api/v1/customers/x"))
                .withHeader("Authorization", equalTo("Basic " + java.util.Base64.getEncoder().encodeToString("site-2:new-key".getBytes()))));
    }

    @Test
    void destroyDeletesTheCioIdWithItsPrefix() {
        server.stubFor(delete(urlPathEqualTo("/api/v1/customers/cio_abc123")).willReturn(okJson("{}")));
        assertThat(client.destroy(Identifier.cioId("abc123")).isSuccess()).isTrue();
        server.verify(deleteRequestedFor(urlPathEqualTo("/api/v1/customers/cio_abc123")));
    }

    @Test
    void a429CarriesItsRetryAfter() {
        server.stubFor(delete(urlPathEqualTo("/api/v1/customers/x")).willReturn(aResponse().withStatus(429).withHeader("Retry-After", "3")));
        TrackResult r = client.destroy(Identifier.id("x"));
        assertThat(r.kind()).isEqualTo(TrackResult.Kind.RETRYABLE);
        assertThat(r.retryAfter()).contains(Duration.ofSeconds(3));
        assertThat(r.statusTag()).isEqualTo("429");
    }

    @Test
    void theTimeoutCoversTheBodyTooNotOnlyTheHeaders() {
        // headers at once, then the body a byte at a time over 20 s: the JDK's own request timeout
        // (1 s here) ends with the headers, and the call used to wait the 20 s
        server.stubFor(delete(urlPathEqualTo("/api/v1/customers/trickle")).willReturn(okJson("{\"x\":\"" + "y".repeat(100) + "\"}")
                .withChunkedDribbleDelay(100, 20_000)));
        long t0 = System.nanoTime();
        TrackResult r = client.destroy(Identifier.id("trickle"));
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertThat(r.kind()).isEqualTo(TrackResult.Kind.RETRYABLE);
        assertThat(r.statusTag()).isEqualTo("timeout");
        assertThat(took).as("bounded by the 1 s timeout, not by the server").isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aBodyPastTheLimitIsNotReadButTheStatusStands() {
        server.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).willReturn(okJson("{\"region\":\"us\",\"pad\":\""
                + "p".repeat(4 * 1024 * 1024) + "\"}")));
        RegionCheck r = client.region();
        assertThat(r.result().status()).isEqualTo(200);
        assertThat(r.region()).as("4 MB of answer is not what the region check reads").isEmpty();
        server.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).willReturn(okJson("{\"region\":\"us\",\"url\":\"https://track.customer.io\"}")));
        assertThat(client.region().region()).as("a new connection after the cancelled one").contains("us");
    }

    @Test
    void aSlowResponseIsARetryableTimeout() {
        server.stubFor(delete(urlPathEqualTo("/api/v1/customers/slow")).willReturn(okJson("{}").withFixedDelay(1500)));
        TrackResult r = client.destroy(Identifier.id("slow"));
        assertThat(r.kind()).isEqualTo(TrackResult.Kind.RETRYABLE);
        assertThat(r.status()).isZero();
        assertThat(r.detail()).isEqualTo("timeout");
    }

    @Test
    void aRefusedConnectionIsRetryable() throws Exception {
        int port = TestInfra.freePort();
        TrackClient closed = TrackClient.http(new TrackEndpoint(URI.create("http://127.0.0.1:" + port), "site", Secret.of("K", "key"),
                Duration.ofSeconds(1), Duration.ofSeconds(1)), Clock.systemUTC());
        TrackResult r = closed.suppress(Identifier.id("x"));
        assertThat(r.kind()).isEqualTo(TrackResult.Kind.RETRYABLE);
        assertThat(r.detail()).isIn("connect_refused", "io_error");
    }

    @Test
    void regionCheckReadsTheRegion() {
        server.stubFor(get(urlPathEqualTo("/api/v1/accounts/region"))
                .willReturn(okJson("{\"url\":\"https://track-eu.customer.io\",\"region\":\"eu\",\"environment_id\":7}")));
        RegionCheck c = client.region();
        assertThat(c.result().isSuccess()).isTrue();
        assertThat(c.region()).contains("eu");
    }

    @Test
    void wrongCredentialsAreUnauthorized() {
        server.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).willReturn(aResponse().withStatus(401)));
        assertThat(client.region().result().kind()).isEqualTo(TrackResult.Kind.UNAUTHORIZED);
    }

    @Test
    void aRotatedKeyFileIsUsedOnTheNextCall() throws Exception {
        java.nio.file.Path f = java.nio.file.Files.createTempFile("key", ".txt");
        java.nio.file.Files.writeString(f, "old\n");
        Secret key = Secret.fromFile("CUSTOMERIO_TRACK_API_KEY_FILE", f);
        TrackClient c = TrackClient.http(new TrackEndpoint(URI.create(server.baseUrl()), "site", key,
                Duration.ofSeconds(1), Duration.ofSeconds(1)), Clock.systemUTC());
        server.stubFor(delete(urlPathEqualTo("/api/v1/customers/r")).willReturn(okJson("{}")));
        c.destroy(Identifier.id("r"));
        java.nio.file.Files.writeString(f, "new-key\n");
        java.nio.file.Files.setLastModifiedTime(f, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
        c.destroy(Identifier.id("r"));
        server.verify(1, deleteRequestedFor(urlPathEqualTo("/api/v1/customers/r")).withHeader("Authorization", equalTo("Basic c2l0ZTpvbGQ=")));
        server.verify(1, deleteRequestedFor(urlPathEqualTo("/api/v1/customers/r")).withHeader("Authorization", equalTo("Basic c2l0ZTpuZXcta2V5")));
    }
}
