package dev.cioerasure.evidence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.PublicKey;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;

/**
 * A signed statement of the audit chain's head at one moment: how many rows it had
 * ({@code chain_seq} of the last) and that row's hash. Kept where the database's superuser has
 * no hand (a compacted Kafka topic, a write-once directory), it pins the history: any row up to
 * {@code chainSeq} changed later, even with every hash recomputed, changes the hash at
 * {@code chainSeq}; rows deleted from the end leave the table shorter than the checkpoint.
 *
 * <p>Signed like a {@link Receipt}: Ed25519 over the canonical JSON without {@code signature}.
 */
public record Checkpoint(long chainSeq, String rowHash, Instant takenAt, String worker) {
    public static final String FORMAT = "cio-erasure-checkpoint/1";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The signed file form (one line of canonical JSON and a newline). */
    public byte[] signed(SigningKey key) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("format", FORMAT);
        c.put("chain_seq", chainSeq);
        c.put("row_hash", rowHash);
        c.put("taken_at", takenAt.toString());
        c.put("worker", worker);
        c.put("public_key_sha256", SigningKey.fingerprint(key.publicKey()));
        c.put("signature", Base64.getEncoder().encodeToString(key.sign(CanonicalJson.bytes(c.deepCopy().without("signature")))));
        byte[] b = CanonicalJson.bytes(c);
        byte[] out = java.util.Arrays.copyOf(b, b.length + 1);
        out[b.length] = '\n';
        return out;
    }

    /**
     * Reads a checkpoint and checks its signature.
     *
     * @return the checkpoint, or empty when it is not one or its signature does not hold with this key
     */
    public static Optional<Checkpoint> read(byte[] bytes, PublicKey key) {
        JsonNode c;
        try {
            c = JSON.readTree(bytes);
        } catch (java.io.IOException e) {
            return Optional.empty();
        }
        if (c == null || !c.isObject() || !FORMAT.equals(c.path("format").asText()) || !c.path("signature").isTextual()
                || !c.path("chain_seq").canConvertToLong() || !c.path("row_hash").isTextual()) {
            return Optional.empty();
        }
        try {
            byte[] signedBytes = CanonicalJson.bytes(((ObjectNode) c).deepCopy().without("signature"));
            byte[] signature = Base64.getDecoder().decode(c.get("signature").textValue());
            if (!SigningKey.verify(key, signedBytes, signature)) {
                return Optional.empty();
            }
            return Optional.of(new Checkpoint(c.get("chain_seq").longValue(), c.get("row_hash").textValue(),
                    Instant.parse(c.path("taken_at").asText()), c.path("worker").asText()));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
