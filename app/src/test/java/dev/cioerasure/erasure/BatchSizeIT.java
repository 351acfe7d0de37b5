package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Secret;
import dev.cioerasure.customerio.BatchClient;
import dev.cioerasure.customerio.TrackEndpoint;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Batches of the longest identifiers the contract admits, against the sandbox, which refuses a
 * body of 500,000 bytes or more (Customer.io: "under 500 KB") with 413.
 */
class BatchSizeIT {
    private static final String SITE = "site-1";
    private static final String KEY = "key-1";
    private TrackSandbox sandbox;
    private BatchClient client;

    @BeforeEach
    void start() throws Exception {
        sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, 5, 1000, 0.0, true, TrackSandbox.Limit.SLIDING_WINDOW));
        client = BatchClient.http(new TrackEndpoint(URI.create(sandbox.baseUrl().toString()), SITE, Secret.of("k", KEY),
                Duration.ofSeconds(2), Duration.ofSeconds(10)), Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        sandbox.close();
    }

    /** 1,000 email addresses of 254 characters, most of them three UTF-8 bytes: over 800 KB in one body. */
    private static List<Identifier> longestEmails() {
        List<Identifier> out = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            out.add(Identifier.email(String.format("%04d", i) + "\u4e2d".repeat(245) + "@x.io"));
        }
        return out;
    }

    @Test
    void oneBatchOfAThousandOfTheLongestEmailsIsTooLargeForTheSandbox() {
        BatchClient.Response r = client.send(longestEmails().stream().map(id -> new BatchClient.Item(TrackOperation.DESTROY, id)).toList());
        assertThat(r.status()).isEqualTo(413);
    }

    @Test
    void theBatcherCutsThemIntoBatchesTheSandboxTakes() throws Exception {
        try (BatchingTrack batches = new BatchingTrack(client, 1000, Duration.ofMillis(200), 1000, 0, Duration.ofSeconds(2),
                new SimpleMeterRegistry())) {
            List<CompletableFuture<TrackResult>> results = new ArrayList<>();
            for (Identifier id : longestEmails()) {
                results.add(batches.send(TrackOperation.DESTROY, id));
            }
            for (CompletableFuture<TrackResult> f : results) {
                TrackResult r = f.get(30, TimeUnit.SECONDS);
                assertThat(r.isSuccess()).as(r.detail()).isTrue();
                assertThat(r.status()).isEqualTo(200);
            }
        }
        assertThat(sandbox.batchSizes()).as("every person in one accepted batch, cut by size").hasSizeGreaterThan(1)
                .allMatch(n -> n < 1000);
        assertThat(sandbox.batchSizes().stream().mapToInt(Integer::intValue).sum()).isEqualTo(1000);
    }
}
