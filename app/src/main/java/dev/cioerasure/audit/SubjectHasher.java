package dev.cioerasure.audit;

import dev.cioerasure.config.Secret;
import dev.cioerasure.request.Identifier;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The only form in which a person's identifier is kept: HMAC-SHA256 keyed with
 * {@code AUDIT_SUBJECT_KEY} over {@code type ":" normalised value}, hex-encoded. Without the key
 * the hash cannot be reversed by guessing emails; with it, an auditor can find a subject's
 * requests ({@code audit find}). Changing the key makes earlier rows unfindable: keep it stable.
 */
public final class SubjectHasher {
    private static final String ALGORITHM = "HmacSHA256";
    private final SecretKeySpec key;
    private final ThreadLocal<Mac> macs = new ThreadLocal<>();

    /**
     * Reads the key once: a key file that changes while a process runs does not change the hashes
     * it writes. (It did: the worker then wrote rows under a key the audit table's fingerprint does
     * not name, unfindable with the key it started with, and the next start was refused.) A new
     * key takes effect at the next start, where the fingerprint check refuses one other than the table's.
     */
    public SubjectHasher(Secret key) {
        this.key = new SecretKeySpec(key.reveal().getBytes(StandardCharsets.UTF_8), ALGORITHM);
    }

    public String hash(Identifier identifier) {
        String message = identifier.type().wireName() + ":" + identifier.type().normalise(identifier.value());
        return HexFormat.of().formatHex(mac().doFinal(message.getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Identifies the key without revealing it: HMAC-SHA256 under the key of a fixed label, hex.
     * Stored with the audit table, so a different key is noticed instead of finding nobody.
     */
    public String fingerprint() {
        return HexFormat.of().formatHex(mac().doFinal("cio-erasure audit subject key fingerprint v1".getBytes(StandardCharsets.UTF_8)));
    }

    private Mac mac() {
        Mac m = macs.get();
        if (m == null) {
            try {
                m = Mac.getInstance(ALGORITHM);
                m.init(key);
                macs.set(m);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("HmacSHA256 unavailable", e);
            }
        }
        return m;
    }
}
