package dev.cioerasure.audit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Ties an audit table to the {@code AUDIT_SUBJECT_KEY} its subject hashes were made with, by a
 * fingerprint stored once (table {@code audit_subject_key}): an HMAC of a fixed label under the
 * key, never the key. A different key would make every look-up answer "nobody", so it is refused.
 */
public final class SubjectKeyFingerprint {
    /** How a key compares with the table's. */
    public enum Match { SAME, NONE_RECORDED, DIFFERENT }

    /** The stored fingerprint and when it was recorded. */
    public record Stored(String fingerprint, Instant recordedAt) { }

    private final DataSource dataSource;
    private final String fingerprint;

    public SubjectKeyFingerprint(DataSource dataSource, SubjectHasher hasher) {
        this.dataSource = dataSource;
        this.fingerprint = hasher.fingerprint();
    }

    public Optional<Stored> stored() throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT fingerprint, recorded_at FROM audit_subject_key");
             ResultSet rs = ps.executeQuery()) {
            return rs.next() ? Optional.of(new Stored(rs.getString(1), rs.getTimestamp(2).toInstant())) : Optional.empty();
        }
    }

    public Match compare() throws SQLException {
        return stored().map(s -> s.fingerprint().equals(fingerprint) ? Match.SAME : Match.DIFFERENT).orElse(Match.NONE_RECORDED);
    }

    /** Records this key's fingerprint if none is, then compares (so two first workers agree on one). */
    public Match recordIfNone() throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO audit_subject_key (fingerprint) VALUES (?) ON CONFLICT DO NOTHING")) {
            ps.setString(1, fingerprint);
            ps.executeUpdate();
        }
        return compare();
    }

    /** The message for a key that differs from the table's; names the variable, never the key. */
    public static String mismatch(Stored stored) {
        return "AUDIT_SUBJECT_KEY: not the key this audit table was written with (the table's key fingerprint "
                + stored.fingerprint().substring(0, 12) + "…, recorded " + stored.recordedAt() + "). Subject hashes made with"
                + " another key match nobody. Use the original key; docs/auditing.md, \"Changing the subject key\"";
    }
}
