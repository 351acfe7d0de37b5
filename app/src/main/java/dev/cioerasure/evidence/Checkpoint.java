package dev.cioerasure.evidence;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.PublicKey;
import java.time.Instant;
import java.util.Optional;

/**
 * A signed statement of the audit chain's head at one moment: how many rows it had
 * ({@code chain_seq} of the last) and that row's hash. Kept where the database's superuser has
 * no hand (a compacted Kafka topic, a write-once directory), it pins the history: any row up to
 * {@code chainSeq} changed later, even with every hash recomputed, changes the hash at
 * {@code chainSeq}; rows deleted from the end leave the table shorter than the checkpoint.
 *
 * <p>Signed like a {@link Receipt} ({@link SignedJson}).
 */
public record Checkpoint(long chainSeq, String rowHash, Instant takenAt, String worker) {
    public static final String FORMAT = "cio-erasure-checkpoint/1";

    /** The signed file form (one line of canonical JSON and a newline). */
    public byte[] signed(SigningKey key) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("format", FORMAT);
        c.put("chain_seq", chainSeq);
        c.put("row_hash", rowHash);
        c.put("taken_at", takenAt.toString());
        c.put("worker", worker);
        return SignedJson.sign(c, key);
    }

    /**
     * Reads a checkpoint and checks its signature.
     *
     * @return the checkpoint, or empty when it is not one or its signature does not hold with this key
     */
    public static Optional<Checkpoint> read(byte[] bytes, PublicKey key) {
        Optional<ObjectNode> parsed = SignedJson.parse(bytes, FORMAT);
        if (parsed.isEmpty()) {
            return Optional.empty();
        }
        ObjectNode c = parsed.get();
        if (!c.path("chain_seq").canConvertToLong() || !c.path("row_hash").isTextual() || !SignedJson.signatureHolds(c, key)) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Checkpoint(c.get("chain_seq").longValue(), c.get("row_hash").textValue(),
                    Instant.parse(c.path("taken_at").asText()), c.path("worker").asText()));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
