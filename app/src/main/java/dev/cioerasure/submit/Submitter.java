package dev.cioerasure.submit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.RecordKeys;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.ParseResult;
import dev.cioerasure.request.RequestParser;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Validates every row of a {@link RequestFile} before anything is sent, fills in missing request
 * ids ({@link #generatedId}), then publishes.
 */
public final class Submitter {
    /** The outcome of validation: the messages ready to send, or the problems by line (no values). */
    public record Checked(List<ObjectNode> messages, List<String> problems, int generatedIds) { }

    private final RequestParser parser;
    private final SubjectHasher hasher;
    private final Clock clock;

    public Submitter(SubjectHasher hasher, Clock clock) {
        this.parser = new RequestParser(clock);
        this.hasher = hasher;
        this.clock = clock;
    }

    public Checked check(RequestFile file) {
        List<ObjectNode> ok = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Map<String, Integer> seenIds = new HashMap<>();
        int generated = 0;
        String now = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
        for (RequestFile.Row row : file.rows()) {
            if (row.problem() != null) {
                problems.add("line " + row.line() + ": " + row.problem());
                continue;
            }
            ObjectNode m = row.message().deepCopy();
            if (!m.has("requested_at")) {
                m.put("requested_at", now);
            }
            boolean derive = !m.has("request_id");
            if (derive) {
                m.put("request_id", "placeholder");
            }
            ParseResult parsed = parser.parse(m.toString().getBytes(StandardCharsets.UTF_8));
            if (parsed instanceof ParseResult.Invalid invalid) {
                problems.add("line " + row.line() + ": " + invalid.rejection().describe());
                continue;
            }
            ErasureRequest r = ((ParseResult.Valid) parsed).request();
            if (derive) {
                m.put("request_id", generatedId(r, row.message().has("requested_at")));
                generated++;
            }
            // keep the field order of the contract
            ObjectNode ordered = m.objectNode();
            for (String f : List.of("request_id", "identifier", "regulation", "requested_at", "requested_by")) {
                ordered.set(f, m.get(f));
            }
            if (m.has("workspaces")) {
                ordered.set("workspaces", m.get("workspaces"));
            }
            String id = ordered.get("request_id").asText();
            Integer earlier = seenIds.putIfAbsent(id, row.line());
            if (earlier != null) {
                problems.add("line " + row.line() + ": request_id repeats the one on line " + earlier
                        + (derive ? " (same person, regulation, requested_by, requested_at and workspaces)" : ""));
                continue;
            }
            ok.add(ordered);
        }
        return new Checked(ok, problems, generated);
    }

    /**
     * A generated request id: {@code sub-<regulation>-} and 32 hex characters of SHA-256 over the
     * keyed subject hash, the regulation, {@code requested_by} and {@code requested_at} when the
     * file gives it (a time filled in as "now" is left out, or a re-run would get new ids). So the
     * same row submitted again gets the same id (the worker records DUPLICATE, nobody is erased
     * twice), while a new request for the same person, under a new ticket ({@code requested_by})
     * or of a new date, gets a new id and is erased again. Without the audit key the id reveals
     * nothing about the person.
     */
    String generatedId(ErasureRequest r, boolean requestedAtGiven) {
        String material = String.join("\n", hasher.hash(r.identifier()), r.regulation().name(), r.requestedBy(),
                requestedAtGiven ? r.requestedAt().toString() : "");
        if (!r.workspaces().isEmpty()) {
            // the same person in other workspaces is another request (ids derived before workspaces stay as they were)
            material += "\n" + String.join(",", new java.util.TreeSet<>(r.workspaces()));
        }
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(material.getBytes(StandardCharsets.UTF_8));
            return "sub-" + r.regulation().name().toLowerCase() + "-" + java.util.HexFormat.of().formatHex(d).substring(0, 32);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A message Kafka did not acknowledge, and why (the producer's exception: it holds no message content). */
    public record Refused(ObjectNode message, Exception cause) { }

    /**
     * Publishes (acks=all) and reports progress (messages acknowledged so far); returns once Kafka
     * has answered for every message, with those it did not acknowledge. One refused message
     * (too large for the topic, say) does not stop the others.
     */
    public List<Refused> publish(KafkaClients kafka, String topic, List<ObjectNode> messages, IntConsumer progress) throws Exception {
        List<Refused> refused = new ArrayList<>();
        try (Producer<byte[], byte[]> producer = kafka.producer("cio-erasure-submit", Map.of(ProducerConfig.LINGER_MS_CONFIG, 20))) {
            List<Future<RecordMetadata>> sent = new ArrayList<>(messages.size());
            for (ObjectNode m : messages) {
                byte[] value = m.toString().getBytes(StandardCharsets.UTF_8);
                ErasureRequest r = ((ParseResult.Valid) parser.parse(value)).request();
                sent.add(producer.send(new ProducerRecord<>(topic, RecordKeys.forSubject(hasher.hash(r.identifier())), value)));
            }
            int acknowledged = 0;
            for (int i = 0; i < sent.size(); i++) {
                try {
                    sent.get(i).get();
                    progress.accept(++acknowledged);
                } catch (java.util.concurrent.ExecutionException e) {
                    refused.add(new Refused(messages.get(i), e.getCause() instanceof Exception c ? c : e));
                }
            }
        }
        return refused;
    }
}
