package dev.cioerasure.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The strict-window sandbox that the pacing tests assert "0 calls over the window" against can
 * count one: the limit plus one calls within a second, concurrent or one after another, are one
 * over it (and get 429); the limit itself is not.
 */
class StrictWindowSandboxTest {
    private static final int LIMIT = 5;
    private final HttpClient http = HttpClient.newHttpClient();

    /** A suppress of person {@code id}, with the sandbox's credentials. */
    private static HttpRequest suppress(TrackSandbox s, String id) {
        String auth = Base64.getEncoder().encodeToString("site:key".getBytes(StandardCharsets.UTF_8));
        return HttpRequest.newBuilder(URI.create(s.baseUrl() + "/api/v1/customers/" + id + "/suppress"))
                .header("Authorization", "Basic " + auth).POST(HttpRequest.BodyPublishers.noBody()).build();
    }

    private int suppress(TrackSandbox s, int i) throws Exception {
        return http.send(suppress(s, "p" + i), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static TrackSandbox sandbox() throws Exception {
        return new TrackSandbox(new TrackSandbox.Options("site", "key", 0, LIMIT, 0.0, true, TrackSandbox.Limit.SLIDING_WINDOW));
    }

    @Test
    void theLimitWithinASecondIsAdmittedAndOneMoreIsCountedOverTheWindow() throws Exception {
        try (TrackSandbox s = sandbox()) {
            List<Integer> statuses = new ArrayList<>();
            for (int i = 0; i < LIMIT; i++) {
                statuses.add(suppress(s, i));
            }
            assertThat(statuses).containsOnly(200);
            assertThat(s.overWindow()).isZero();
            assertThat(suppress(s, LIMIT)).isEqualTo(429);
            assertThat(s.overWindow()).isEqualTo(1);
        }
    }

    @Test
    void concurrentCallsOverTheLimitAreCountedOverTheWindow() throws Exception {
        try (TrackSandbox s = sandbox()) {
            List<java.util.concurrent.CompletableFuture<HttpResponse<Void>>> calls = new ArrayList<>();
            for (int i = 0; i < 3 * LIMIT; i++) {
                calls.add(http.sendAsync(suppress(s, "c" + i), HttpResponse.BodyHandlers.discarding()));
            }
            long accepted = calls.stream().map(java.util.concurrent.CompletableFuture::join).filter(r -> r.statusCode() == 200).count();
            assertThat(accepted).isEqualTo(LIMIT);
            assertThat(s.overWindow()).isEqualTo(2L * LIMIT);
        }
    }
}
