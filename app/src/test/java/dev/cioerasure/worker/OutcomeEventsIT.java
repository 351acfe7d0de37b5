package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a ticketing platform reads on the outcomes topic when a request does not end at its first
 * announcement: a rejected request resubmitted corrected under the same id (as the README
 * allows) is announced REJECTED, then COMPLETED, then its verification; a repeat announces
 * COMPLETED again.
 */
class OutcomeEventsIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private WireMockServer track;
    private WorkerHarness h;

    @BeforeEach
    void setUp() throws Exception {
        track = TrackStubs.started();
        h = WorkerHarness.forStub(URI.create(track.baseUrl())).outcomeEvents();
    }

    @AfterEach
    void tearDown() {
        h.close();
        track.stop();
    }

    private List<String> announced(String requestId, int atLeast) {
        List<String> seen = new ArrayList<>();
        h.readUntil(h.settings.kafka().outcomesTopic(), records -> {
            seen.clear();
            for (ConsumerRecord<byte[], byte[]> r : records) {
                try {
                    JsonNode e = JSON.readTree(r.value());
                    if (e.path("request_id").asText().equals(requestId)) {
                        seen.add(e.path("event").asText() + " " + e.path("outcome").asText()
                                + (e.path("reason").asText("").startsWith("announced again") ? " again" : ""));
                    }
                } catch (java.io.IOException ex) {
                    throw new AssertionError(ex);
                }
            }
            return seen.size() >= atLeast;
        }, Duration.ofSeconds(30));
        return seen;
    }

    @Test
    void aRejectedRequestResubmittedCorrectedIsAnnouncedCompletedAfterItsRejection() throws Exception {
        String wrong = new String(Messages.request("r-corrected", "email", "later.fixed@example.com"), StandardCharsets.UTF_8)
                .replace("\"GDPR\"", "\"LGPD\"");
        h.start();
        h.send(wrong.getBytes(StandardCharsets.UTF_8));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);
        h.send(Messages.request("r-corrected", "email", "later.fixed@example.com"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 2);
        h.send(Messages.request("r-corrected", "email", "later.fixed@example.com"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 3);

        assertThat(announced("r-corrected", 4)).as("the outcome before its verification (here: no App API key)")
                .containsExactly("outcome REJECTED", "outcome COMPLETED", "verification UNVERIFIABLE", "outcome COMPLETED again");
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-corrected' AND step = 'OUTCOME'"
                + " AND outcome IN ('REJECTED', 'COMPLETED', 'DUPLICATE')")).isEqualTo(3);
    }
}
