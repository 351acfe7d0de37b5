package dev.cioerasure.submit;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.RecordKeys;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.ParseResult;
import dev.cioerasure.request.RequestParser;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Validates every row of a {@link RequestFile} before anything is sent, fills in missing request
 * ids ({@link #generatedId}), then publishes. A file is read row by row, once to check it and once
 * to send it, so memory does not grow with the file beyond the request ids it holds.
 */
public final class Submitter {
    /** Stands for the id to be generated while the row is checked: one of the ids cio-erasure makes, so it names nobody. */
    private static final String PLACEHOLDER_ID = "sub-gdpr-00000000000000000000000000000000";
    private final RequestParser parser;
    private final SubjectHasher hasher;
    /** Filled in where a row has no requested_at: the same for every pass over a file. */
    private final String now;

    public Submitter(SubjectHasher hasher, Clock clock) {
        this.parser = new RequestParser(clock);
        this.hasher = hasher;
        this.now = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    }

    /**
     * A row checked: the message ready to send (its request id filled in) and the person it names,
     * or why it cannot be sent (no values).
     */
    public record Checked(int line, ObjectNode message, Identifier identifier, boolean idGenerated, String problem) {
        static Checked problem(int line, String problem) {
            return new Checked(line, null, null, false, problem);
        }

        public String requestId() {
            return message.get("request_id").asText();
        }
    }

    /**
     * One pass over a file: checks each row, and (in a {@link #check} pass) request ids repeated
     * within the file. A new pass starts afresh, and checks the same rows into the same messages.
     */
    public final class Pass {
        /** Each request id seen and its line; null when repeats are not looked for. */
        private final Map<String, Integer> seenIds;

        private Pass(boolean findRepeats) {
            this.seenIds = findRepeats ? new HashMap<>() : null;
        }

        public Checked check(RequestFile.Row row) {
            if (row.problem() != null) {
                return Checked.problem(row.line(), "line " + row.line() + ": " + row.problem());
            }
            ObjectNode m = row.message().deepCopy();
            if (!m.has("requested_at")) {
                m.put("requested_at", now);
            }
            boolean derive = !m.has("request_id");
            if (derive) {
                m.put("request_id", PLACEHOLDER_ID);
            }
            ParseResult parsed = parser.parse(m.toString().getBytes(StandardCharsets.UTF_8));
            if (parsed instanceof ParseResult.Invalid invalid) {
                return Checked.problem(row.line(), "line " + row.line() + ": " + invalid.rejection().describe());
            }
            ErasureRequest r = ((ParseResult.Valid) parsed).request();
            if (derive) {
                m.put("request_id", generatedId(r, row.message().has("requested_at")));
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
            Integer earlier = seenIds == null ? null : seenIds.putIfAbsent(id, row.line());
            if (earlier != null) {
                return Checked.problem(row.line(), "line " + row.line() + ": request_id repeats the one on line " + earlier
                        + (derive ? " (same person, regulation, requested_by, requested_at and workspaces)" : ""));
            }
            return new Checked(row.line(), ordered, r.identifier(), derive, null);
        }
    }

    /** A pass that checks every row and looks for request ids the file repeats (it keeps each id: about 150 bytes a row). */
    public Pass check() {
        return new Pass(true);
    }

    /**
     * A pass over a file a {@link #check} pass has found sound: the same messages, without
     * looking for repeats again, so its memory does not grow with the file.
     */
    public Pass reread() {
        return new Pass(false);
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
            return "sub-" + r.regulation().name().toLowerCase(java.util.Locale.ROOT) + "-" + java.util.HexFormat.of().formatHex(d).substring(0, 32);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A request Kafka did not acknowledge, and why (the producer's exception: it holds no message content). */
    public record Refused(String requestId, Exception cause) { }

    /**
     * Publishes (acks=all) one message at a time; {@link #finish} returns once Kafka has answered
     * for every message, with those it did not acknowledge. One refused message (too large for the
     * topic, say) does not stop the others. Memory: the producer's buffer, and the refused ones.
     */
    public final class Publication implements AutoCloseable {
        private final Producer<byte[], byte[]> producer;
        private final String topic;
        private final java.util.concurrent.atomic.AtomicInteger acknowledged = new java.util.concurrent.atomic.AtomicInteger();
        private final List<Refused> refused = java.util.Collections.synchronizedList(new ArrayList<>());

        private Publication(KafkaClients kafka, String topic) {
            this.producer = kafka.producer("cio-erasure-submit", Map.of(ProducerConfig.LINGER_MS_CONFIG, 20));
            this.topic = topic;
        }

        /** Sends a message its {@link Pass} found valid (it is not parsed again), keyed by its person. */
        public void send(Checked c) {
            byte[] value = c.message().toString().getBytes(StandardCharsets.UTF_8);
            String id = c.requestId();
            producer.send(new ProducerRecord<>(topic, RecordKeys.forSubject(hasher.hash(c.identifier())), value), (md, e) -> {
                if (e == null) {
                    acknowledged.incrementAndGet();
                } else {
                    refused.add(new Refused(id, e));
                }
            });
        }

        /** Messages acknowledged so far. */
        public int acknowledged() {
            return acknowledged.get();
        }

        /** Waits until Kafka has answered for every message sent; the refused ones. */
        public List<Refused> finish() {
            producer.flush();
            synchronized (refused) {
                return List.copyOf(refused);
            }
        }

        @Override
        public void close() {
            producer.close();
        }
    }

    public Publication publication(KafkaClients kafka, String topic) {
        return new Publication(kafka, topic);
    }
}
