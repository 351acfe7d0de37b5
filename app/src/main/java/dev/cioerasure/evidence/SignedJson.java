package dev.cioerasure.evidence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.PublicKey;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;

/**
 * The signed form shared by receipts and checkpoints: the object gets {@code public_key_sha256}
 * and {@code signature}, the Ed25519 signature (base64) of its canonical JSON
 * ({@link CanonicalJson}) without {@code signature}; the file is the canonical JSON of the whole
 * object on one line, then a newline.
 */
final class SignedJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SignedJson() { }

    /** Signs the object (adding the two members) and returns the file form. */
    static byte[] sign(ObjectNode body, SigningKey key) {
        body.put("public_key_sha256", SigningKey.fingerprint(key.publicKey()));
        body.put("signature", Base64.getEncoder().encodeToString(key.sign(signedBytes(body))));
        return fileForm(body);
    }

    /** The object if the bytes are JSON of the given format with a signature member; empty otherwise. */
    static Optional<ObjectNode> parse(byte[] bytes, String format) {
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (java.io.IOException e) {
            return Optional.empty();
        }
        if (n == null || !n.isObject() || !format.equals(n.path("format").asText()) || !n.path("signature").isTextual()) {
            return Optional.empty();
        }
        return Optional.of((ObjectNode) n);
    }

    /** The bytes are exactly the file form of the object they hold (no byte changed, added or reformatted). */
    static boolean isFileForm(byte[] bytes, ObjectNode signed) {
        try {
            return Arrays.equals(bytes, fileForm(signed));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** The signature holds for the object's content under this key. */
    static boolean signatureHolds(ObjectNode signed, PublicKey key) {
        try {
            return SigningKey.verify(key, signedBytes(signed), Base64.getDecoder().decode(signed.get("signature").textValue()));
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static byte[] signedBytes(ObjectNode o) {
        return CanonicalJson.bytes(o.deepCopy().without("signature"));
    }

    private static byte[] fileForm(ObjectNode o) {
        byte[] b = CanonicalJson.bytes(o);
        byte[] out = Arrays.copyOf(b, b.length + 1);
        out[b.length] = '\n';
        return out;
    }
}
