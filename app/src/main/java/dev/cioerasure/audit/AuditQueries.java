package dev.cioerasure.audit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import javax.sql.DataSource;

/** What auditors ask of the audit table; read-only (the auditor role is enough). */
public final class AuditQueries {
    private final DataSource dataSource;

    public AuditQueries(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** One audit row as an auditor reads it. */
    public record Row(long seq, Instant recordedAt, Instant occurredAt, String requestId, String subjectHash, String identifierType,
                      String step, String outcome, Integer httpStatus, Integer attempts, String reason, String regulation,
                      Instant requestedAt, Instant deadlineAt, String requestedBy, String source, String workerInstance,
                      String workspace) {
        /**
         * Another identifier's (or workspace's) record under this request id, rejected as
         * REQUEST_ID_REUSED: not the request's own outcome, whatever came before it.
         */
        public boolean reusedId() {
            return "OUTCOME".equals(step) && "REJECTED".equals(outcome) && reason != null
                    && reason.startsWith(dev.cioerasure.request.Rejection.Code.REQUEST_ID_REUSED.name() + ":"); // Rejection.describe()
        }

        /**
         * A record's outcome COMPLETED that the database stored DUPLICATE because its request id had
         * completed before: since migration V17 said so when that completion was another
         * identifier's; before it, in the words of a copy of the same person's request, which only
         * the completion's subject tells apart ({@link #completedSubjects}).
         */
        public boolean completedDuplicate() {
            return "OUTCOME".equals(step) && "DUPLICATE".equals(outcome)
                    && (BESIDE_ANOTHER.equals(reason) || COPY_BEFORE_V17.equals(reason));
        }
    }

    /** Migration V17's reason of a DUPLICATE whose outcome was COMPLETED, the completion being another identifier's. */
    static final String BESIDE_ANOTHER = "request id was already completed for another identifier; this identifier's outcome (COMPLETED)"
            + " recorded as duplicate";
    /** The reason the trigger gave it before V17, as it does for a copy of the same person's request (V9-V16). */
    static final String COPY_BEFORE_V17 = "request was already completed; this outcome (COMPLETED) recorded as duplicate";

    /** Of these request ids, the subject hash of each one's COMPLETED row (at most one each, by a unique index). */
    public java.util.Map<String, String> completedSubjects(java.util.Collection<String> requestIds) throws SQLException {
        return byKeys("SELECT request_id, subject_hash FROM audit_event WHERE request_id = ANY (?) AND step = 'OUTCOME'"
                + " AND outcome = 'COMPLETED'", "text", requestIds, rs -> rs.getString(1));
    }

    /**
     * {@link Row#reusedId()} in SQL, over {@code audit_event} aliased {@code e}: the rule by which the
     * view erasure_request_status and close_request (migration V15) leave such a row out. Null for
     * a REJECTED row without a reason: test it with {@code IS NOT TRUE}, not {@code NOT}.
     */
    static final String REUSED_ID_ROW = "(e.outcome = 'REJECTED' AND e.reason LIKE 'REQUEST\\_ID\\_REUSED:%')";

    /**
     * One request's standing (the view erasure_request_status), for reports.
     *
     * @param verification over the request's VERIFY rows (one per workspace): STILL_PRESENT if any
     *                     workspace still had the person, else UNVERIFIABLE if any could not be
     *                     checked, else VERIFIED once every workspace it was erased in is verified;
     *                     PENDING for an erased request still being checked; null when not erased
     * @param verifiedAt   when the last of those VERIFY rows was written
     * @param workspaces   where the request stands in each workspace, e.g. {@code eu:SUCCEEDED;us:FAILED}
     *                     (view erasure_workspace_status); empty for a request from before workspaces
     */
    public record RequestLine(String requestId, String regulation, String identifierType, String requestedBy, Instant requestedAt,
                              Instant deadlineAt, Instant firstSeenAt, String status, Instant statusAt, boolean erased,
                              Boolean onTime, String verification, Instant verifiedAt, String workspaces) {
        public RequestLine(String requestId, String regulation, String identifierType, String requestedBy, Instant requestedAt,
                           Instant deadlineAt, Instant firstSeenAt, String status, Instant statusAt, boolean erased, Boolean onTime) {
            this(requestId, regulation, identifierType, requestedBy, requestedAt, deadlineAt, firstSeenAt, status, statusAt, erased, onTime,
                    erased ? "PENDING" : null, null, "");
        }
    }

    /**
     * Where one request's verification stands, from its rows (one VERIFY row per workspace):
     * {@code STILL_PRESENT} if any workspace still had the person, else {@code UNVERIFIABLE} if any
     * could not be checked, else {@code VERIFIED} once every workspace it succeeded in is verified;
     * {@code PENDING} while an erased request's checks go on; {@code NOT_ERASED} when there is
     * nothing to verify. The report's SQL folds the same way.
     *
     * @param checks     the VERIFY rows, in chain order
     * @param complete   every workspace the request succeeded in has its VERIFY row (at least one)
     * @param erasedIn   the workspaces it succeeded in (WORKSPACE SUCCEEDED rows)
     * @param pendingIn  those of them without a VERIFY row yet
     * @param verifiedAt when the last VERIFY row was written, or null while PENDING or with none
     */
    public record Verification(String outcome, List<Row> checks, boolean complete, List<String> erasedIn, List<String> pendingIn,
                               Instant verifiedAt) {
        public static Verification of(List<Row> history, boolean erased) {
            List<Row> checks = history.stream().filter(r -> "VERIFY".equals(r.step())).toList();
            List<String> erasedIn = history.stream().filter(r -> "WORKSPACE".equals(r.step()) && "SUCCEEDED".equals(r.outcome()))
                    .map(Row::workspace).distinct().toList();
            boolean complete = !checks.isEmpty() && checks.size() >= Math.max(1, erasedIn.size());
            String outcome = checks.stream().anyMatch(r -> "STILL_PRESENT".equals(r.outcome())) ? "STILL_PRESENT"
                    : checks.stream().anyMatch(r -> "UNVERIFIABLE".equals(r.outcome())) ? "UNVERIFIABLE"
                    : complete ? "VERIFIED" : erased ? "PENDING" : "NOT_ERASED";
            List<String> pendingIn = erasedIn.stream().filter(w -> checks.stream().noneMatch(c -> w.equals(c.workspace()))).toList();
            Instant at = checks.isEmpty() || outcome.equals("PENDING") ? null
                    : checks.stream().map(Row::occurredAt).max(java.util.Comparator.naturalOrder()).orElseThrow();
            return new Verification(outcome, checks, complete, erasedIn, pendingIn, at);
        }
    }

    private static final String ROW_COLUMNS = "chain_seq, recorded_at, occurred_at, request_id, subject_hash, identifier_type, step,"
            + " outcome, http_status, attempts, reason, regulation, requested_at, deadline_at, requested_by, kafka_topic,"
            + " kafka_partition, kafka_offset, worker_instance, workspace";

    /** Where each of these requests stands (view erasure_request_status): its status, e.g. COMPLETED; absent when unknown. */
    public java.util.Map<String, String> statusOf(java.util.Collection<String> requestIds) throws SQLException {
        return byKeys("SELECT request_id, status FROM erasure_request_status WHERE request_id = ANY (?)", "text", requestIds,
                rs -> rs.getString(1));
    }

    /** A column read from a result's current row. */
    @FunctionalInterface
    private interface Column<T> {
        T read(ResultSet rs) throws SQLException;
    }

    /**
     * The second column of {@code sql}'s rows, by the key each row's {@code key} reads; {@code sql}
     * takes the keys as one array parameter of SQL type {@code type}.
     */
    private <K> java.util.Map<K, String> byKeys(String sql, String type, java.util.Collection<K> keys, Column<K> key)
            throws SQLException {
        java.util.Map<K, String> out = new java.util.HashMap<>();
        if (keys.isEmpty()) {
            return out;
        }
        try (java.sql.Connection c = dataSource.getConnection(); java.sql.PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf(type, keys.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(key.read(rs), rs.getString(2));
                }
            }
        }
        return out;
    }

    /**
     * What the audit table says of one Kafka record's own person, by the subject hash of its
     * OUTCOME row.
     *
     * @param completedForAnother its request id was completed for another identifier than this
     *                            record's: two records of one id for two persons that ran at once in
     *                            two instances, one erased, the other not. The request reads
     *                            COMPLETED, yet this record's person was not erased by it.
     * @param erasedSince         the request id under which this person was erased after the record
     *                            (the first COMPLETED for the same subject hash written after the
     *                            record's row, under another request id), or null: for a record of
     *                            another person's request id, submitted again under an id of its own
     */
    public record RecordPerson(boolean completedForAnother, String erasedSince) { }

    /**
     * Of these Kafka records, those whose person the audit table says something of
     * ({@link RecordPerson}), in one look-up: the others are left out.
     */
    public java.util.Map<AuditEvent.KafkaCoordinates, RecordPerson> personOfRecords(java.util.Collection<AuditEvent.KafkaCoordinates> records)
            throws SQLException {
        java.util.Map<AuditEvent.KafkaCoordinates, RecordPerson> out = new java.util.HashMap<>();
        if (records.isEmpty()) {
            return out;
        }
        try (java.sql.Connection c = dataSource.getConnection();
             java.sql.PreparedStatement ps = c.prepareStatement("SELECT o.kafka_topic, o.kafka_partition, o.kafka_offset,"
                     + " o.subject_hash IS NOT NULL AND EXISTS (SELECT 1 FROM audit_event e WHERE e.request_id = o.request_id"
                     + " AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED' AND e.subject_hash <> o.subject_hash), l.request_id"
                     + " FROM unnest(?::text[], ?::int[], ?::bigint[]) AS r(t, p, o)"
                     + " JOIN audit_event o ON o.step = 'OUTCOME' AND o.kafka_topic = r.t AND o.kafka_partition = r.p AND o.kafka_offset = r.o"
                     + " LEFT JOIN" + ERASED_SINCE + " ON true")) {
            ps.setArray(1, c.createArrayOf("text", records.stream().map(AuditEvent.KafkaCoordinates::topic).toArray()));
            ps.setArray(2, c.createArrayOf("integer", records.stream().map(AuditEvent.KafkaCoordinates::partition).toArray()));
            ps.setArray(3, c.createArrayOf("bigint", records.stream().map(AuditEvent.KafkaCoordinates::offset).toArray()));
            try (java.sql.ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    RecordPerson person = new RecordPerson(rs.getBoolean(4), rs.getString(5));
                    if (person.completedForAnother() || person.erasedSince() != null) {
                        out.put(new AuditEvent.KafkaCoordinates(rs.getString(1), rs.getInt(2), rs.getLong(3)), person);
                    }
                }
            }
        }
        return out;
    }

    /** {@link RecordPerson#erasedSince} of rows {@code o}, as {@code l}: joined LEFT (kept without one) or CROSS (left out). */
    private static final String ERASED_SINCE = " LATERAL (SELECT e.request_id FROM audit_event e WHERE e.subject_hash = o.subject_hash"
            + " AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED' AND e.chain_seq > o.chain_seq"
            + " AND e.request_id IS DISTINCT FROM o.request_id ORDER BY e.chain_seq LIMIT 1) l";

    /** {@link RecordPerson#erasedSince} of audit rows by their chain position: those erased since, by position. */
    public java.util.Map<Long, String> erasedSinceUnderAnotherIdBySeq(java.util.Collection<Long> seqs) throws SQLException {
        return byKeys("SELECT o.chain_seq, l.request_id FROM audit_event o CROSS JOIN" + ERASED_SINCE + " WHERE o.chain_seq = ANY(?)",
                "bigint", seqs, rs -> rs.getLong(1));
    }

    /** Every row of one request, in chain order. */
    public List<Row> history(String requestId) throws SQLException {
        return rows("SELECT " + ROW_COLUMNS + " FROM audit_event WHERE request_id = ? ORDER BY chain_seq", requestId);
    }

    /** Every row about one subject (by its keyed hash), in chain order. */
    public List<Row> bySubject(String subjectHash) throws SQLException {
        return rows("SELECT " + ROW_COLUMNS + " FROM audit_event WHERE subject_hash = ? ORDER BY chain_seq", subjectHash);
    }

    /** The chain link (row hash) of each of one request's rows, by chain position. */
    public java.util.Map<Long, String> rowHashes(String requestId) throws SQLException {
        java.util.Map<Long, String> out = new java.util.TreeMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT chain_seq, row_hash FROM audit_event WHERE request_id = ?")) {
            ps.setString(1, requestId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getLong(1), rs.getString(2));
                }
            }
        }
        return out;
    }

    private List<Row> rows(String sql, String arg) throws SQLException {
        List<Row> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, arg);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String topic = rs.getString(16);
                    out.add(new Row(rs.getLong(1), time(rs, 2), time(rs, 3), rs.getString(4), rs.getString(5), rs.getString(6),
                            rs.getString(7), rs.getString(8), (Integer) rs.getObject(9), (Integer) rs.getObject(10), rs.getString(11),
                            rs.getString(12), time(rs, 13), time(rs, 14), rs.getString(15),
                            topic == null ? null : topic + "-" + rs.getInt(17) + "@" + rs.getLong(18), rs.getString(19),
                            rs.getString(20)));
                }
            }
        }
        return out;
    }

    /**
     * One line per request first seen in [from, to): its regulation, deadline, where it stands and
     * whether it was erased on time. Streams, so a report of millions of requests needs no memory.
     */
    public void report(Instant from, Instant to, Consumer<RequestLine> each) throws SQLException {
        String sql = "WITH first_seen AS (SELECT request_id, min(occurred_at) AS first_seen_at FROM audit_event"
                + " WHERE request_id IS NOT NULL AND step = 'OUTCOME' GROUP BY request_id)"
                + " SELECT s.request_id, s.regulation, s.identifier_type, s.requested_by, s.requested_at, s.deadline_at,"
                + " f.first_seen_at, s.status, s.status_at, s.erased, s.on_time,"
                + " CASE WHEN v.verification <> 'VERIFIED' OR v.checked >= coalesce(w.erased_in, 1) THEN v.verification END,"
                + " CASE WHEN v.verification <> 'VERIFIED' OR v.checked >= coalesce(w.erased_in, 1) THEN v.verified_at END,"
                + " coalesce(w.workspaces, '')"
                + " FROM erasure_request_status s JOIN first_seen f USING (request_id)"
                + " LEFT JOIN (SELECT request_id, CASE WHEN bool_or(verification = 'STILL_PRESENT') THEN 'STILL_PRESENT'"
                + "   WHEN bool_or(verification = 'UNVERIFIABLE') THEN 'UNVERIFIABLE' ELSE 'VERIFIED' END AS verification,"
                + "   count(*) AS checked, max(verified_at) AS verified_at"
                + "   FROM erasure_verification_status GROUP BY request_id) v USING (request_id)"
                + " LEFT JOIN (SELECT request_id, count(*) FILTER (WHERE status = 'SUCCEEDED') AS erased_in,"
                + "   string_agg(workspace || ':' || status, ';' ORDER BY workspace) AS workspaces"
                + "   FROM erasure_workspace_status GROUP BY request_id) w USING (request_id)"
                + " WHERE coalesce(s.requested_at, f.first_seen_at) >= ? AND coalesce(s.requested_at, f.first_seen_at) < ?"
                + " ORDER BY coalesce(s.requested_at, f.first_seen_at), s.request_id";
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                ps.setFetchSize(5000);
                ps.setObject(1, OffsetDateTime.ofInstant(from, java.time.ZoneOffset.UTC));
                ps.setObject(2, OffsetDateTime.ofInstant(to, java.time.ZoneOffset.UTC));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        boolean erased = rs.getBoolean(10);
                        String verification = rs.getString(12);
                        each.accept(new RequestLine(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), time(rs, 5),
                                time(rs, 6), time(rs, 7), rs.getString(8), time(rs, 9), erased, (Boolean) rs.getObject(11),
                                verification != null ? verification : erased ? "PENDING" : null, time(rs, 13), rs.getString(14)));
                    }
                }
            }
            c.commit();
        }
    }

    private static Instant time(ResultSet rs, int col) throws SQLException {
        OffsetDateTime t = rs.getObject(col, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }
}
