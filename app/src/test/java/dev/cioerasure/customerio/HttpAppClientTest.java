package dev.cioerasure.customerio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.config.Secret;
import dev.cioerasure.request.Identifier;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HttpAppClientTest {
    private static WireMockServer server;
    private AppClient client;

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
        client = AppClient.http(new AppEndpoint(URI.create(server.baseUrl()), Secret.of("CUSTOMERIO_APP_API_KEY", "app-key"),
                Duration.ofSeconds(1), Duration.ofMillis(500)), Clock.systemUTC());
    }

    @Test
    void aTrickledBodyIsATimeoutAndAHugeOneIsNotReadToItsEnd() {
        server.stubFor(get(urlEqualTo("/v1/customers/trickle/attributes?id_type=id")).willReturn(okJson("{\"customer\":\""
                + "a".repeat(100) + "\"}").withChunkedDribbleDelay(100, 20_000)));
        long t0 = System.nanoTime();
        PresenceResult slow = client.lookup(Identifier.id("trickle"));
        assertThat(slow.statusTag()).isEqualTo("timeout");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
        server.stubFor(get(urlEqualTo("/v1/customers/big/attributes?id_type=id")).willReturn(okJson("{\"customer\":\""
                + "a".repeat(8 * 1024 * 1024) + "\"}")));
        PresenceResult big = client.lookup(Identifier.id("big"));
        assertThat(big.kind()).as("the status is the answer; the body is never kept: %s", big.statusTag()).isEqualTo(PresenceResult.Kind.PRESENT);
    }

    @Test
    void aJson404MeansGoneAndTheLookUpIsEncodedWithBearerAuth() {
        server.stubFor(get(urlEqualTo("/v1/customers/a%2Bb%40example.com/attributes?id_type=email"))
                .willReturn(aResponse().withStatus(404).withHeader("Content-Type", "application/json").withBody("{\"errors\":[]}")));
        PresenceResult r = client.lookup(Identifier.email("a+b@example.com"));
        assertThat(r.kind()).isEqualTo(PresenceResult.Kind.GONE);
        assertThat(r.status()).isEqualTo(404);
        server.verify(getRequestedFor(urlEqualTo("/v1/customers/a%2Bb%40example.com/attributes?id_type=email"))
                .withHeader("Authorization", equalTo("Bearer app-key")));
    }

    @Test
    void aCioIdIsLookedUpWithoutItsPrefixAndA200MeansPresent() {
        server.stubFor(get(urlEqualTo("/v1/customers/abc123/attributes?id_type=cio_id"))
                .willReturn(okJson("{\"customer\":{\"attributes\":{\"email\":\"x@example.com\"}}}")));
        PresenceResult r = client.lookup(Identifier.cioId("abc123"));
        assertThat(r.kind()).isEqualTo(PresenceResult.Kind.PRESENT);
        assertThat(r.toString()).as("the body (the person's attributes) is never kept").doesNotContain("example.com");
    }

    @Test
    void a404ThatIsNotTheAppApisJsonProvesNothing() {
        server.stubFor(get(urlEqualTo("/v1/customers/u1/attributes?id_type=id"))
                .willReturn(aResponse().withStatus(404).withHeader("Content-Type", "text/html").withBody("<h1>Not Found</h1>")));
        PresenceResult r = client.lookup(Identifier.id("u1"));
        assertThat(r.kind()).as("a wrong base URL must not verify anyone").isEqualTo(PresenceResult.Kind.PERMANENT);
    }

    @Test
    void a429CarriesItsRetryAfterAndA5xxOrATimeoutIsRetryable() {
        server.stubFor(get(urlEqualTo("/v1/customers/u1/attributes?id_type=id"))
                .willReturn(aResponse().withStatus(429).withHeader("Retry-After", "3")));
        PresenceResult limited = client.lookup(Identifier.id("u1"));
        assertThat(limited.kind()).isEqualTo(PresenceResult.Kind.RETRYABLE);
        assertThat(limited.retryAfter()).contains(Duration.ofSeconds(3));

        server.stubFor(get(urlEqualTo("/v1/customers/u2/attributes?id_type=id")).willReturn(aResponse().withStatus(503)));
        assertThat(client.lookup(Identifier.id("u2")).kind()).isEqualTo(PresenceResult.Kind.RETRYABLE);

        server.stubFor(get(urlEqualTo("/v1/customers/u3/attributes?id_type=id")).willReturn(okJson("{}").withFixedDelay(2000)));
        PresenceResult slow = client.lookup(Identifier.id("u3"));
        assertThat(slow.kind()).isEqualTo(PresenceResult.Kind.RETRYABLE);
        assertThat(slow.statusTag()).isEqualTo("timeout");
    }

    @Test
    void aRefusedKeyIsUnauthorized() {
        server.stubFor(get(urlEqualTo("/v1/customers/u1/attributes?id_type=id")).willReturn(aResponse().withStatus(401)));
        assertThat(client.lookup(Identifier.id("u1")).kind()).isEqualTo(PresenceResult.Kind.UNAUTHORIZED);
    }
}
