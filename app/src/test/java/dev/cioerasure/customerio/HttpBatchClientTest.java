package dev.cioerasure.customerio;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.config.Secret;
import dev.cioerasure.request.Identifier;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** POST /api/v2/batch as DESIGN §3.2 has it: the body, 200/207/400, and a 207 read by batch_index only. */
class HttpBatchClientTest {
    private static WireMockServer server;
    private BatchClient client;
    private static final List<BatchClient.Item> ITEMS = List.of(
            new BatchClient.Item(TrackOperation.SUPPRESS, Identifier.email("a+b@example.com")),
            new BatchClient.Item(TrackOperation.SUPPRESS, Identifier.id("customer-7")),
            new BatchClient.Item(TrackOperation.SUPPRESS, Identifier.cioId("a30001")));

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
        client = BatchClient.http(new TrackEndpoint(URI.create(server.baseUrl()), "site-1", Secret.of("k", "key-1"), Duration.ofSeconds(1),
                Duration.ofSeconds(2)), Clock.systemUTC());
    }

    @Test
    void theBodyNamesEachPersonByOneIdentifierAndTheActionWithBasicAuth() {
        server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withStatus(200).withBody("{}")));
        BatchClient.Response r = client.send(ITEMS);
        assertThat(r.kind()).isEqualTo(TrackResult.Kind.SUCCESS);
        assertThat(r.refused()).isEmpty();
        server.verify(postRequestedFor(urlEqualTo("/api/v2/batch"))
                .withHeader("Authorization", equalTo("Basic c2l0ZS0xOmtleS0x"))
                .withHeader("Content-Type", equalTo("application/json"))
                .withRequestBody(equalToJson("""
                        {"batch":[
                          {"type":"person","identifiers":{"email":"a+b@example.com"},"action":"suppress"},
                          {"type":"person","identifiers":{"id":"customer-7"},"action":"suppress"},
                          {"type":"person","identifiers":{"cio_id":"a30001"},"action":"suppress"}]}""")));
        assertThat(new String(HttpBatchClient.body(List.of(new BatchClient.Item(TrackOperation.DESTROY, Identifier.id("x"))))))
                .contains("\"action\":\"delete\"");
    }

    /** What the batcher counts against the 500 KB limit is what the body weighs, to the byte. */
    @Test
    void theEncodedSizeOfItemsIsWhatTheBodyWeighs() {
        List<BatchClient.Item> items = List.of(new BatchClient.Item(TrackOperation.DESTROY, Identifier.email("\u4e2d\"q\"@x.io")),
                new BatchClient.Item(TrackOperation.DESTROY, Identifier.id("customer-7")),
                new BatchClient.Item(TrackOperation.DESTROY, Identifier.cioId("a30001")));
        for (int n = 1; n <= items.size(); n++) {
            List<BatchClient.Item> some = items.subList(0, n);
            assertThat(HttpBatchClient.body(some).length)
                    .isEqualTo(BatchClient.ENVELOPE_BYTES - 1 + some.stream().mapToInt(BatchClient::encodedSize).sum());
        }
    }

    @Test
    void a207RefusesTheListedItemsByIndexAndKeepsNoValueTheServerEchoes() {
        server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withStatus(207).withBody("""
                {"errors":[{"batch_index":1,"reason":"invalid","field":"identifiers.id","message":"customer-7 is not allowed"},
                           {"batch_index":2,"reason":"<script>","field":"a30001 here"},
                           {"batch_index":0,"reason":"Customer-7","field":"identifiers.A30001"}]}""")));
        BatchClient.Response r = client.send(ITEMS);
        assertThat(r.kind()).isEqualTo(TrackResult.Kind.SUCCESS);
        // an id or cio_id is made of the same characters as a name: one the batch holds is not kept either
        assertThat(r.refused()).isEqualTo(Map.of(1, "batch item refused: invalid identifiers.id", 2, "batch item refused: invalid item",
                0, "batch item refused: invalid item"));
        assertThat(r.refused().toString().toLowerCase(java.util.Locale.ROOT)).doesNotContain("customer-7", "a30001", "script");
    }

    @Test
    void a207WhoseErrorsCannotBeMappedIsMalformedAndTheBatchIsRetried() {
        for (String body : List.of("{\"errors\":[{\"reason\":\"invalid\"}]}", "{\"errors\":[{\"batch_index\":3}]}", "not json",
                "{\"errors\":[{\"batch_index\":\"1\"}]}", "{}",
                "{\"errors\":[{\"batch_index\":4294967296}]}", "{\"errors\":[{\"batch_index\":18446744073709551617}]}")) {
            // 2^32 and 2^64 + 1 read as an int are 0 and 1: items the server did not name
            server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withStatus(207).withBody(body)));
            BatchClient.Response r = client.send(ITEMS);
            assertThat(r.kind()).as(body).isEqualTo(TrackResult.Kind.RETRYABLE);
            assertThat(r.detail()).isEqualTo("malformed 207");
        }
    }

    @Test
    void wholeBatchAnswersAreClassifiedAsV1sWithRetryAfter() {
        server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withStatus(429).withHeader("Retry-After", "3")));
        BatchClient.Response limited = client.send(ITEMS);
        assertThat(limited.kind()).isEqualTo(TrackResult.Kind.RETRYABLE);
        assertThat(limited.retryAfter()).isEqualTo(Optional.of(Duration.ofSeconds(3)));
        server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withStatus(400)));
        assertThat(client.send(ITEMS).kind()).isEqualTo(TrackResult.Kind.PERMANENT);
        server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withStatus(401)));
        assertThat(client.send(ITEMS).kind()).isEqualTo(TrackResult.Kind.UNAUTHORIZED);
        server.stubFor(post(urlEqualTo("/api/v2/batch")).willReturn(aResponse().withFixedDelay(3000)));
        BatchClient.Response slow = client.send(ITEMS);
        assertThat(slow.status()).isZero();
        assertThat(slow.detail()).isEqualTo("timeout");
    }
}
