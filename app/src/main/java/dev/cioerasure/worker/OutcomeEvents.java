package dev.cioerasure.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Announces each final outcome (COMPLETED, FAILED, REJECTED) and each verification result
 * (VERIFIED, STILL_PRESENT, UNVERIFIABLE) on {@code ERASURE_OUTCOMES_TOPIC}, keyed by request id,
 * so that a ticketing or DSR platform can close its ticket. Schema {@value #SCHEMA}
 * (docs/outcome-events.md): request id, event, outcome, regulation, times, reason; never an
 * identifier or subject hash.
 *
 * <p>Sent after the audit rows are durable and before the record's offset may be committed:
 * at least once. A replay after a crash, or a completed request submitted again, announces its
 * final outcome again; consumers take the first event per request id and event kind.
 * A transient send failure is retried until it succeeds; a permanent one (not authorised,
 * invalid topic) is logged and counted in {@code erasure_republish_given_up_total{topic="outcomes"}}.
 */
public final class OutcomeEvents {
    private static final Logger log = LoggerFactory.getLogger(OutcomeEvents.class);
    static final String SCHEMA = "cio-erasure-outcome/1";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<Outcome> FINAL = Set.of(Outcome.COMPLETED, Outcome.FAILED, Outcome.REJECTED);

    /**
     * The reason of a final outcome announced again (its request id was seen again): its
     * {@code occurred_at} is then when it was seen again, so the event carries no {@code on_time}.
     */
    static final String REPEATED = "announced again: the request id was seen again";

    /** Announces nothing (no ERASURE_OUTCOMES_TOPIC). */
    static final OutcomeEvents NONE = new OutcomeEvents(null, null);

    private final Republisher republisher;
    private final String topic;

    /** @param republisher sends the events as it sends its copies: retried while transient, given up when permanent */
    OutcomeEvents(Republisher republisher, String topic) {
        this.republisher = republisher;
        this.topic = topic;
    }

    /** Whether events are announced at all (an outcomes topic is set). */
    boolean enabled() {
        return topic != null;
    }

    /** Whether a row is one a platform is told about: a final outcome with a request id, or a verification result. */
    static boolean announced(AuditEvent row) {
        return row.requestId() != null
                && (row.step() == Step.OUTCOME && FINAL.contains(row.outcome()) || row.step() == Step.VERIFY);
    }

    /**
     * Announces the rows among these that platforms are told about; completes once Kafka has them
     * all. Several (an outcome and the UNVERIFIABLE verifications written with it) go out at once:
     * on their one partition (one key) the producer keeps their order while Kafka takes them. When
     * one fails (the topic gone, the broker away), it is sent again, and so is every event after it,
     * each once the one before is acknowledged: retried each on its own, they reached the topic in
     * any order, a verification before its outcome (docs/outcome-events.md, "Order"). An event after
     * it that Kafka had taken is then announced twice (at least once, as after a crash).
     */
    CompletableFuture<Void> announce(List<AuditEvent> rows) {
        if (topic == null) {
            return CompletableFuture.completedFuture(null);
        }
        List<ProducerRecord<byte[], byte[]>> events = rows.stream().filter(OutcomeEvents::announced)
                .map(row -> new ProducerRecord<>(topic, row.requestId().getBytes(StandardCharsets.UTF_8), event(row))).toList();
        if (events.size() <= 1) {
            return events.isEmpty() ? CompletableFuture.completedFuture(null) : untilAcked(events.get(0));
        }
        List<CompletableFuture<Throwable>> first = events.stream().map(republisher::sendOnce).toList();
        return CompletableFuture.allOf(first.toArray(CompletableFuture[]::new)).thenCompose(v -> {
            int from = 0;
            while (from < events.size() && first.get(from).join() == null) {
                from++;
            }
            int failed = from;
            // on a pool thread: this runs on the producer's I/O thread, which must never send itself
            return failed == events.size() ? CompletableFuture.completedFuture(null)
                    : CompletableFuture.supplyAsync(() -> inOrder(events, first, failed)).thenCompose(f -> f);
        });
    }

    /** Sends the events from the first that failed on, each once Kafka has the one before; those refused for good are given up. */
    private CompletableFuture<Void> inOrder(List<ProducerRecord<byte[], byte[]>> events, List<CompletableFuture<Throwable>> first,
                                            int failed) {
        Throwable cause = first.get(failed).join();
        if (!Republisher.isPermanent(cause)) { // one refused for good is said by its own line
            log.warn("publish to {} for {} failed ({}: {}); sending it and the events of the request after it again, in order",
                    topic, what(events.get(failed)), cause.getClass().getSimpleName(), Republisher.safeMessage(cause));
        }
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        for (int i = failed; i < events.size(); i++) {
            ProducerRecord<byte[], byte[]> e = events.get(i);
            Throwable error = first.get(i).join();
            if (error != null && Republisher.isPermanent(error)) {
                givenUp(error);
            } else {
                chain = chain.thenComposeAsync(x -> untilAcked(e));
            }
        }
        return chain;
    }

    private CompletableFuture<Void> untilAcked(ProducerRecord<byte[], byte[]> e) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        republisher.sendUntilAcked(e, what(e), done, error -> {
            givenUp(error);
            done.complete(null);
        });
        return done;
    }

    private static String what(ProducerRecord<byte[], byte[]> e) {
        return "the outcome event of request " + new String(e.key(), StandardCharsets.UTF_8);
    }

    private void givenUp(Throwable error) {
        log.error("{} refuses outcome events ({}: {}); giving up on this one: the audit row stands", topic,
                error.getClass().getSimpleName(), Republisher.safeMessage(error));
        republisher.givenUpCounter("outcomes").increment();
    }

    /** The event's JSON (docs/outcome-events.md); also what {@code close} announces for a CLOSED row. */
    public static byte[] event(AuditEvent row) {
        ObjectNode e = JSON.createObjectNode();
        e.put("schema", SCHEMA);
        e.put("request_id", row.requestId());
        e.put("event", row.step() == Step.VERIFY ? "verification" : "outcome");
        e.put("outcome", row.outcome().name());
        e.put("regulation", row.regulation());
        e.put("requested_at", str(row.requestedAt()));
        e.put("deadline_at", str(row.deadlineAt()));
        e.put("occurred_at", str(row.occurredAt()));
        if (row.outcome() == Outcome.COMPLETED && row.deadlineAt() != null && !REPEATED.equals(row.reason())) {
            e.put("on_time", !row.occurredAt().isAfter(row.deadlineAt()));
        }
        e.put("reason", row.reason());
        if (row.workspace() != null) {
            e.put("workspace", row.workspace()); // which workspace a verification is about
        }
        try {
            return JSON.writeValueAsBytes(e);
        } catch (com.fasterxml.jackson.core.JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    private static String str(Instant t) {
        return t == null ? null : t.toString();
    }
}
