package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * CUSTOMERIO_TRACK_API=batch end to end, against the sandbox's /api/v2/batch counting batch
 * requests in a strict one-second window: a refused item, a batch refused whole, 429s.
 */
class BatchIT {
    private static final int LIMIT = 20; // batch requests per second
    private TrackSandbox sandbox;

    @BeforeEach
    void sandbox() throws Exception {
        sandbox = new TrackSandbox(new TrackSandbox.Options(WorkerHarness.SITE_ID, WorkerHarness.API_KEY, 20, LIMIT, 0.0, true,
                TrackSandbox.Limit.SLIDING_WINDOW));
    }

    @AfterEach
    void stop() {
        sandbox.close();
    }

    private WorkerHarness harness() throws Exception {
        WorkerHarness h = new WorkerHarness(URI.create(sandbox.baseUrl().toString()), LIMIT, 5, Duration.ofSeconds(5), 3)
                .worker(128, Duration.ofMinutes(10));
        return h.batch(new Settings.Batch(true, 50, Duration.ofMillis(50)));
    }

    private Map<String, Long> accepted() {
        return sandbox.calls().stream().filter(c -> c.status() == 200 && c.identifier() != null)
                .collect(Collectors.groupingBy(c -> c.operation() + " " + c.identifier(), Collectors.counting()));
    }

    @Test
    void manyPersonsPerRequestWithTheItemsCustomerIoRefusesFailedAloneAndNothingOverTheWindow() throws Exception {
        sandbox.rejectBatchItemsOf("refused-1");          // a 207 lists it
        sandbox.refuseBatchesWith("poison@example.com");  // any batch holding it is refused whole (400)
        sandbox.failBatches(429, 2);                      // and two batches are told to slow down
        try (WorkerHarness h = harness()) {
            h.start();
            int n = 300;
            for (int i = 0; i < n; i++) {
                h.send(Messages.request("b-" + i, "id", "batched-" + i));
            }
            h.send(Messages.request("b-refused", "id", "refused-1"));
            h.send(Messages.request("b-poison", "email", "poison@example.com"));
            await().atMost(Duration.ofSeconds(90)).until(() -> h.outcomes() == n + 2);

            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(n);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'b-refused' AND step = 'SUPPRESS' AND outcome = 'FAILED'"
                    + " AND http_status = 207 AND reason = 'batch item refused: invalid identifiers (permanent)'")).isEqualTo(1);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'b-poison' AND step = 'SUPPRESS' AND outcome = 'FAILED'"
                    + " AND http_status = 400 AND reason = 'http 400: the batch refused this item (permanent)'")).isEqualTo(1);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id IN ('b-refused', 'b-poison') AND step = 'OUTCOME'"
                    + " AND outcome = 'FAILED'")).isEqualTo(2);
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id IN ('b-refused', 'b-poison') AND step = 'DESTROY'"))
                    .as("no delete without an accepted suppress").isZero();

            Map<String, Long> once = accepted();
            assertThat(once).hasSize(2 * n);
            assertThat(once.values()).as("one accepted suppress and one delete per person").containsOnly(1L);
            double perErasure = (double) sandbox.batchRequests() / n;
            long told429 = sandbox.calls().stream().filter(c -> c.operation().equals("batch") && c.status() == 429).count();
            assertThat(told429).as("the two injected 429s were answered, and their items retried").isEqualTo(2);
            Cli.report("BatchIT: %d batch requests for %d erasures (%.3f a person), largest batch %d, %d answered 429%n",
                    sandbox.batchRequests(), n, perErasure, sandbox.batchSizes().stream().mapToInt(Integer::intValue).max().orElse(0),
                    told429);
            assertThat(perErasure).as("many persons per request (v1 needs 2)").isLessThan(0.5);
            assertThat(sandbox.overWindow()).as("batch requests never over the strict window").isZero();
            assertThat(h.rows().toString()).doesNotContain("batched-", "poison@");
        }
    }
}
