package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TestInfra;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
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

    /**
     * A deleted outcomes topic is waited for, as an outage: Kafka cannot tell it from a topic being
     * created, and giving up would leave a ticket open for good. The log says the topic has no
     * metadata, without waiting Kafka's 120 s and 60 s; the event is sent once the topic is back.
     */
    @Test
    void anOutcomesTopicDeletedWhileTheWorkerRunsIsWaitedForAndTheEventSentOnceItIsBack() throws Exception {
        String outcomes = h.settings.kafka().outcomesTopic();
        h.start();
        h.send(Messages.request("r-before", "email", "before.delete@example.com"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, TestInfra.kafka().bootstrapServers()));
             LogCapture logs = LogCapture.capture()) {
            admin.deleteTopics(List.of(outcomes)).all().get();
            // deletion is asynchronous: an event produced meanwhile went to the log being deleted
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                try {
                    admin.describeTopics(List.of(outcomes)).allTopicNames().get();
                    return false;
                } catch (java.util.concurrent.ExecutionException e) {
                    return e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
                }
            });
            h.send(Messages.request("r-while-gone", "email", "while.gone@example.com"));
            // first the send Kafka had accepted expires (30 s), then one finds no metadata (10 s)
            await().atMost(Duration.ofSeconds(75)).until(() -> logs.lines().stream().anyMatch(l ->
                    l.contains("publish to " + outcomes + " for the outcome event of request r-while-gone failed")
                            && l.contains("not present in metadata")));
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-while-gone' AND outcome = 'COMPLETED'"))
                    .as("the erasure and its row do not wait for the topic").isEqualTo(1);
            assertThat(h.runtime().meters().find("erasure.republish.given.up").tag("topic", "outcomes").counter().count())
                    .as("not given up").isZero();

            await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                    .until(() -> admin.createTopics(List.of(new NewTopic(outcomes, 3, (short) 1))).all().get() == null);
            assertThat(announced("r-while-gone", 1)).as("announced once the topic is back").contains("outcome COMPLETED");
        }
    }
}
