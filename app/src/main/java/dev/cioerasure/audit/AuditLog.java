package dev.cioerasure.audit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/** Read-side queries the worker needs. */
public final class AuditLog {
    private final DataSource dataSource;

    public AuditLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** The requests not yet erased, tracked from here on (see {@link OpenRequests}). */
    public OpenRequests openRequests() {
        return new OpenRequests(dataSource);
    }

    /** Where one request's verification in one workspace stands, as the audit table tells it. */
    public enum VerificationStanding {
        /** Completed for this person (in this workspace), no VERIFY row yet: check. */
        DUE,
        /** The VERIFY row is there: the verification is finished. */
        DONE,
        /**
         * No COMPLETED outcome for this request and person (or, for a workspace, no SUCCEEDED row
         * there): nothing was erased that a VERIFY row could be about.
         */
        NOT_ERASED,
        /**
         * This person's record ran beside the request's completion for another identifier (two
         * records of one id in two instances at once): its COMPLETED was stored as a DUPLICATE
         * (V17's reason, or the one before it). The request's one VERIFY row per workspace is that
         * other person's: this one is not checked, and its record is no forgery.
         */
        ERASED_BESIDE
    }

    /**
     * Whether a verification record is due: its request must be COMPLETED for the same subject
     * (and SUCCEEDED in the workspace it names, when it names one), and not yet have its VERIFY row
     * there (workspace null: the row without a workspace, from before workspaces). The worker writes
     * verification records only after those rows are durable; a record the audit table does not
     * back (a forged or mistaken one) must not get a VERIFIED row, nor take the place of the
     * request's real verification (one VERIFY row per request and workspace).
     */
    public VerificationStanding verificationStanding(String requestId, String subjectHash, String workspace) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT"
                     + " EXISTS (SELECT 1 FROM audit_event WHERE request_id = ? AND step = 'VERIFY' AND workspace IS NOT DISTINCT FROM ?),"
                     + " EXISTS (SELECT 1 FROM audit_event WHERE request_id = ? AND step = 'OUTCOME' AND outcome = 'COMPLETED'"
                     + "         AND subject_hash = ?),"
                     + " CAST(? AS text) IS NULL OR EXISTS (SELECT 1 FROM audit_event WHERE request_id = ? AND step = 'WORKSPACE'"
                     + "         AND outcome = 'SUCCEEDED' AND workspace = ? AND subject_hash = ?),"
                     + " EXISTS (SELECT 1 FROM audit_event WHERE request_id = ? AND step = 'OUTCOME' AND outcome = 'DUPLICATE'"
                     + "         AND subject_hash = ? AND reason IN (?, ?))")) {
            ps.setString(1, requestId);
            ps.setString(2, workspace);
            ps.setString(3, requestId);
            ps.setString(4, subjectHash);
            ps.setString(5, workspace);
            ps.setString(6, requestId);
            ps.setString(7, workspace);
            ps.setString(8, subjectHash);
            ps.setString(9, requestId);
            ps.setString(10, subjectHash);
            ps.setString(11, AuditQueries.BESIDE_ANOTHER);
            ps.setString(12, AuditQueries.COPY_BEFORE_V17);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    return VerificationStanding.DONE;
                }
                if (rs.getBoolean(2) && rs.getBoolean(3)) {
                    return VerificationStanding.DUE;
                }
                // before V17 a copy of this person's own request read the same: then the COMPLETED is theirs (DUE above)
                return rs.getBoolean(4) ? VerificationStanding.ERASED_BESIDE : VerificationStanding.NOT_ERASED;
            }
        }
    }

    /**
     * How far this machine's clock is ahead of the database's (negative: behind): the database's
     * {@code clock_timestamp()} against this clock at the middle of the round trip, so the
     * network's delay cancels out to within half the round trip.
     */
    public java.time.Duration clockSkew(java.time.Clock clock) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT clock_timestamp()")) {
            long before = clock.millis();
            try (ResultSet rs = ps.executeQuery()) {
                long after = clock.millis();
                rs.next();
                java.time.Instant db = rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
                return java.time.Duration.ofMillis((before + after) / 2 - db.toEpochMilli());
            }
        }
    }

    /**
     * The offset of the last record of this topic partition before {@code before} that has an
     * {@code OUTCOME} row, or -1 when none has. Every record of the request topic gets one before
     * the group's offset may pass it, so the group's committed offset is never beyond this plus
     * one, unless something other than a worker moved it. Records processed since the offset was
     * read (their rows at {@code before} and after) do not hide what was skipped before it.
     */
    public long lastOutcomeOffset(String topic, int partition, long before) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT max(kafka_offset) FROM audit_event"
                     + " WHERE step = 'OUTCOME' AND kafka_topic = ? AND kafka_partition = ? AND kafka_offset < ?")) {
            ps.setString(1, topic);
            ps.setInt(2, partition);
            ps.setLong(3, before);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long last = rs.getLong(1);
                return rs.wasNull() ? -1 : last;
            }
        }
    }

    /**
     * Why the database cannot be used now (its SQLState and name, or the error's kind; never a
     * value), or empty when it answers. After a failover the pool's idle connections lead to the
     * old primary and may never answer: the pool spends a whole borrow's wait validating one of
     * them. A failed check therefore drops the idle connections and asks once more, on a new one,
     * so readiness says whether the database can be reached, not whether an old connection still
     * works.
     */
    public java.util.Optional<String> whyUnreachable() {
        java.util.Optional<String> first = check();
        if (first.isEmpty()) {
            return first;
        }
        Databases.evictIdle(dataSource);
        return check();
    }

    private java.util.Optional<String> check() {
        try (Connection c = dataSource.getConnection()) {
            return c.isValid(2) ? java.util.Optional.empty() : java.util.Optional.of("no answer within 2 s");
        } catch (SQLException e) {
            return java.util.Optional.of(Databases.why(e));
        }
    }
}
