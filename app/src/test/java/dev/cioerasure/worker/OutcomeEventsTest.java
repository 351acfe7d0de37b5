package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The events match the schema platforms are given (schema/outcome-event.schema.json), and only the right rows are announced. */
class OutcomeEventsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Instant T = Instant.parse("2026-11-28T10:00:00Z");

    private static AuditEvent row(String requestId, Step step, Outcome outcome, String regulation, String reason) {
        return new AuditEvent(requestId, requestId == null ? null : "ab".repeat(32), "email", step, outcome, null, null, reason, regulation,
                regulation == null ? null : T, regulation == null ? null : T.plusSeconds(30L * 86400), "desk/1",
                new KafkaCoordinates("erasure.requests", 0, 1), T.plusSeconds(5));
    }

    /** Every way the schema can be broken that an event could break it: required, unknown, type, enum, const. */
    private static List<String> violations(JsonNode schema, JsonNode event) {
        List<String> out = new ArrayList<>();
        schema.get("required").forEach(r -> {
            if (!event.has(r.asText())) {
                out.add("missing " + r.asText());
            }
        });
        event.fieldNames().forEachRemaining(name -> {
            JsonNode p = schema.get("properties").get(name);
            if (p == null) {
                out.add("unknown " + name);
                return;
            }
            JsonNode v = event.get(name);
            if (p.has("const") && !p.get("const").equals(v)) {
                out.add(name + " is not " + p.get("const"));
            }
            if (p.has("enum")) {
                boolean found = false;
                for (JsonNode e : p.get("enum")) {
                    found |= e.equals(v);
                }
                if (!found) {
                    out.add(name + " " + v + " not in " + p.get("enum"));
                }
            }
            if (p.has("type")) {
                List<String> types = new ArrayList<>();
                if (p.get("type").isArray()) {
                    p.get("type").forEach(t -> types.add(t.asText()));
                } else {
                    types.add(p.get("type").asText());
                }
                String actual = v.isNull() ? "null" : v.isBoolean() ? "boolean" : v.isTextual() ? "string" : v.getNodeType().name();
                if (!types.contains(actual)) {
                    out.add(name + " is " + actual + ", not " + types);
                }
            }
        });
        return out;
    }

    @Test
    void everyKindOfEventMatchesThePublishedSchema() throws Exception {
        JsonNode schema = JSON.readTree(Path.of("schema", "outcome-event.schema.json").toFile());
        List<AuditEvent> rows = List.of(
                row("r-1", Step.OUTCOME, Outcome.COMPLETED, "GDPR", null),
                row("r-2", Step.OUTCOME, Outcome.FAILED, "CCPA", "suppress: http 400 after 1 attempt (permanent)"),
                row("r-3", Step.OUTCOME, Outcome.REJECTED, null, "identifier.value: missing"),
                row("r-1", Step.VERIFY, Outcome.VERIFIED, "GDPR", "App API: no such person (404) at check 1"),
                row("r-4", Step.VERIFY, Outcome.STILL_PRESENT, "GDPR", "the App API still found the person"),
                row("r-5", Step.VERIFY, Outcome.UNVERIFIABLE, "GDPR", VerificationProcessor.notConfiguredReason()),
                row("r-1", Step.OUTCOME, Outcome.COMPLETED, "GDPR", OutcomeEvents.REPEATED),
                row("r-6", Step.VERIFY, Outcome.VERIFIED, "GDPR", "App API: no such person (404) at check 1").inWorkspace("brand-eu"));
        for (AuditEvent r : rows) {
            assertThat(OutcomeEvents.announced(r)).as("%s %s is announced", r.step(), r.outcome()).isTrue();
            JsonNode event = JSON.readTree(OutcomeEvents.event(r));
            assertThat(violations(schema, event)).as("%s", event).isEmpty();
            assertThat(event.toString()).doesNotContain("ab".repeat(32), "desk/1", "erasure.requests");
        }
        assertThat(JSON.readTree(OutcomeEvents.event(rows.get(0))).get("on_time").asBoolean()).isTrue();
        assertThat(JSON.readTree(OutcomeEvents.event(rows.get(6))).has("on_time")).as("a repeat").isFalse();
        assertThat(JSON.readTree(OutcomeEvents.event(rows.get(7))).get("workspace").asText()).isEqualTo("brand-eu");
        assertThat(JSON.readTree(OutcomeEvents.event(rows.get(0))).has("workspace")).as("an outcome covers all workspaces").isFalse();
        // announced by the command close (not by the worker): as the command builds it, from closed_request_event's columns
        JsonNode closed = JSON.readTree(OutcomeEvents.event(new AuditEvent("r-7", null, null, Step.OUTCOME, Outcome.CLOSED, null, null,
                "closed without erasure by desk/9: withdrawn", "GDPR", T, T.plusSeconds(30L * 86400), null, null, T.plusSeconds(9))));
        assertThat(violations(schema, closed)).as("%s", closed).isEmpty();
        assertThat(closed.get("outcome").asText()).isEqualTo("CLOSED");
        assertThat(closed.has("on_time")).isFalse();
        assertThat(violations(schema, JSON.readTree("{\"schema\":\"x\",\"extra\":1}")))
                .as("the check itself finds what it looks for").contains("missing request_id", "unknown extra", "schema is not \"cio-erasure-outcome/1\"");
    }

    @Test
    void stepRowsRetryRoundsDuplicatesAndRejectionsWithoutARequestIdAreNotAnnounced() {
        assertThat(OutcomeEvents.announced(row("r-1", Step.SUPPRESS, Outcome.SUCCEEDED, "GDPR", null))).isFalse();
        assertThat(OutcomeEvents.announced(row("r-1", Step.OUTCOME, Outcome.RETRY_SCHEDULED, "GDPR", "retry round 1"))).isFalse();
        assertThat(OutcomeEvents.announced(row("r-1", Step.OUTCOME, Outcome.DUPLICATE, "GDPR", null))).isFalse();
        assertThat(OutcomeEvents.announced(row(null, Step.OUTCOME, Outcome.REJECTED, null, "bad json"))).isFalse();
    }

    /**
     * An outcome and the verification written with it, both refused (the topic gone): retried each
     * on its own, they reached the topic in either order, the verification first in one run of
     * {@code OutcomeEventsIT}. Sent again in order, each once the one before is acknowledged.
     */
    @Test
    void eventsOfARequestRefusedForNowAreSentAgainInTheirOrder() throws Exception {
        org.apache.kafka.clients.producer.MockProducer<byte[], byte[]> producer = new org.apache.kafka.clients.producer.MockProducer<>(
                false, null, new org.apache.kafka.common.serialization.ByteArraySerializer(),
                new org.apache.kafka.common.serialization.ByteArraySerializer());
        io.micrometer.core.instrument.simple.SimpleMeterRegistry meters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        OutcomeEvents events = new OutcomeEvents(new Republisher(producer, "t.dlq", "t.retry", "w1", meters), "t.outcomes");
        java.util.function.IntFunction<String> kind = i -> {
            try {
                JsonNode e = JSON.readTree(producer.history().get(i).value());
                return e.get("event").asText() + " " + e.get("outcome").asText();
            } catch (java.io.IOException ex) {
                throw new AssertionError(ex);
            }
        };
        try (dev.cioerasure.testing.LogCapture logs = dev.cioerasure.testing.LogCapture.capture()) {
            java.util.concurrent.CompletableFuture<Void> done = events.announce(List.of(
                    row("r-1", Step.OUTCOME, Outcome.COMPLETED, "GDPR", null),
                    row("r-1", Step.VERIFY, Outcome.UNVERIFIABLE, "GDPR", "no App API key configured")));
            assertThat(producer.history()).hasSize(2);
            org.apache.kafka.common.errors.TimeoutException gone =
                    new org.apache.kafka.common.errors.TimeoutException("Topic t.outcomes not present in metadata after 10000 ms.");
            assertThat(producer.errorNext(gone)).isTrue();
            assertThat(producer.errorNext(gone)).isTrue();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> producer.history().size() == 3);
            assertThat(kind.apply(2)).isEqualTo("outcome COMPLETED");
            Thread.sleep(300);
            assertThat(producer.history()).as("the verification waits for its outcome").hasSize(3);
            assertThat(producer.completeNext()).isTrue();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> producer.history().size() == 4);
            assertThat(kind.apply(3)).isEqualTo("verification UNVERIFIABLE");
            assertThat(done).isNotDone();
            assertThat(producer.completeNext()).isTrue();
            done.get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(logs.lines()).filteredOn(l -> l.contains("sending it and the events of the request after it again, in order"))
                    .hasSize(1).allMatch(l -> l.contains("for the outcome event of request r-1 failed (TimeoutException: Topic t.outcomes"));
        }
        assertThat(meters.get("erasure.republish.given.up").tag("topic", "outcomes").counter().count()).isZero();

        // While Kafka takes them, both go out at once, in order, and nothing is sent twice.
        producer.clear();
        java.util.concurrent.CompletableFuture<Void> done = events.announce(List.of(
                row("r-2", Step.OUTCOME, Outcome.COMPLETED, "GDPR", null),
                row("r-2", Step.VERIFY, Outcome.UNVERIFIABLE, "GDPR", "no App API key configured")));
        assertThat(producer.history()).hasSize(2);
        assertThat(kind.apply(0)).isEqualTo("outcome COMPLETED");
        assertThat(producer.completeNext()).isTrue();
        assertThat(producer.completeNext()).isTrue();
        done.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(producer.history()).hasSize(2);
    }
}
