package dev.cioerasure.audit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Re-computes the audit table's hash chain independently of the database's own functions and
 * reports every row where it breaks (or only the first, when asked). The canonical form (also in docs/auditing.md): each
 * field, in the order of {@link #FIELDS}, as {@code <UTF-8 byte length>:<text>}, or {@code ~}
 * for NULL; timestamps as integer microseconds since the Unix epoch; then, only when it is set, the workspace as a twentieth field (rows from before workspaces
 * existed hash as they always did);
 * {@code row_hash = hex(sha256(prev_hash || canonical))}, with {@code prev_hash} of the first row
 * 64 zeros. It detects edited rows (hash mismatch), deleted rows (a gap in {@code chain_seq} or
 * a broken link), inserted or reordered rows (broken link), and a truncated tail (the last row
 * does not match the chain head).
 */
public final class ChainVerifier {
    static final String GENESIS = "0".repeat(64);
    static final String FIELDS = "chain_seq, recorded_at, request_id, subject_hash, identifier_type, step, outcome, http_status,"
            + " attempts, reason, regulation, requested_at, deadline_at, requested_by, kafka_topic, kafka_partition,"
            + " kafka_offset, worker_instance, occurred_at, workspace";
    private static final int[] TIME_COLUMNS = {2, 12, 13, 19};

    /** At most this many breaks are kept with their details; all are counted. */
    public static final int MAX_LISTED = 1000;
    static final int PROGRESS_EVERY = 10_000;

    /**
     * The verdict: every break found (the first {@value #MAX_LISTED} listed, all counted), in
     * chain order; none when the chain is intact.
     */
    public record Result(long rowsChecked, long lastSeq, List<Break> breaks, long breakCount) {
        public boolean intact() {
            return breakCount == 0;
        }

        public Optional<Break> firstBreak() {
            return breaks.isEmpty() ? Optional.empty() : Optional.of(breaks.get(0));
        }
    }

    /** Where and how the chain breaks. */
    public record Break(long chainSeq, long rowId, String problem) { }

    private final DataSource dataSource;

    public ChainVerifier(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Checks the whole table and reports every break. */
    public Result verify() throws SQLException {
        return verify(false);
    }

    /**
     * Checks the table row by row. After a break the check goes on from the row it found (its
     * own link and content are still checked), so rows deleted, edited or inserted further on
     * are reported too; {@code stopAtFirst} ends at the first break instead.
     */
    public Result verify(boolean stopAtFirst) throws SQLException {
        return verify(stopAtFirst, (checked, total) -> { });
    }

    /** Told how far a long check has come: rows checked so far, of about {@code total}. */
    public interface Progress {
        void checked(long rows, long total);
    }

    /** {@link #verify(boolean)}, telling {@code progress} the rows to check, then every {@value #PROGRESS_EVERY} rows, and at the end. */
    public Result verify(boolean stopAtFirst, Progress progress) throws SQLException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        HexFormat hex = HexFormat.of();
        long checked = 0;
        long expectedSeq = 1;
        String expectedPrev = GENESIS;
        List<Break> breaks = new ArrayList<>();
        long[] count = {0};
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false); // lets the driver stream with a cursor instead of loading every row
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ); // rows and head from one snapshot
            long total;
            try (PreparedStatement head = c.prepareStatement("SELECT coalesce(max(chain_seq), 0) FROM audit_event");
                 ResultSet rs = head.executeQuery()) {
                rs.next();
                total = rs.getLong(1); // the rows there should be: what the check will read, unless rows are missing
            }
            progress.checked(0, total);
            try (PreparedStatement ps = c.prepareStatement("SELECT id, prev_hash, row_hash, " + FIELDS
                    + " FROM audit_event ORDER BY chain_seq")) {
                ps.setFetchSize(10_000);
                try (ResultSet rs = ps.executeQuery()) {
                    StringBuilder canonical = new StringBuilder(512);
                    while (rs.next()) {
                        long id = rs.getLong(1);
                        String prev = rs.getString(2);
                        String stored = rs.getString(3);
                        long seq = rs.getLong(4);
                        boolean linked = true;
                        if (seq != expectedSeq) {
                            linked = false;
                            add(breaks, count, new Break(seq, id, seq > expectedSeq
                                    ? "rows " + expectedSeq + ".." + (seq - 1) + " are missing (deleted)"
                                    : "chain_seq " + seq + " appears twice or out of order"));
                        }
                        if (linked && !expectedPrev.equals(prev)) {
                            add(breaks, count, new Break(seq, id,
                                    "prev_hash does not match the previous row's row_hash (row inserted, removed or reordered)"));
                        }
                        canonical.setLength(0);
                        for (int col = 4; col <= 22; col++) {
                            append(canonical, text(rs, col));
                        }
                        String workspace = rs.getString(23);
                        if (workspace != null) {
                            append(canonical, workspace);
                        }
                        String computed = hex.formatHex(sha.digest((prev + canonical).getBytes(StandardCharsets.UTF_8)));
                        if (!computed.equals(stored)) {
                            add(breaks, count, new Break(seq, id, "row content does not match its row_hash (row edited)"));
                        }
                        if (stopAtFirst && count[0] > 0) {
                            return done(c, checked, seq, breaks, count[0]);
                        }
                        checked++;
                        if (checked % PROGRESS_EVERY == 0) {
                            progress.checked(checked, Math.max(total, checked));
                        }
                        expectedSeq = seq + 1;
                        expectedPrev = stored;
                    }
                }
            }
            try (Statement st = c.createStatement();
                 ResultSet head = st.executeQuery("SELECT last_seq, last_hash FROM audit_chain_head")) {
                if (head.next() && (head.getLong(1) != expectedSeq - 1 || !head.getString(2).equals(expectedPrev))) {
                    add(breaks, count, new Break(head.getLong(1), -1,
                            "the chain head records row " + head.getLong(1) + " but the table ends at row " + (expectedSeq - 1)
                                    + " (rows removed from the end, or the head was altered)"));
                }
            }
            c.commit();
        }
        progress.checked(checked, checked);
        return new Result(checked, expectedSeq - 1, List.copyOf(breaks), count[0]);
    }

    private static void add(List<Break> breaks, long[] count, Break b) {
        count[0]++;
        if (breaks.size() < MAX_LISTED) {
            breaks.add(b);
        }
    }

    private static Result done(Connection c, long checked, long seq, List<Break> breaks, long count) throws SQLException {
        c.rollback();
        return new Result(checked, seq, List.copyOf(breaks), count);
    }

    private static String text(ResultSet rs, int col) throws SQLException {
        for (int t : TIME_COLUMNS) {
            if (t + 3 == col) {
                OffsetDateTime odt = rs.getObject(col, OffsetDateTime.class);
                return odt == null ? null : Long.toString(ChronoUnit.MICROS.between(Instant.EPOCH, odt.toInstant()));
            }
        }
        return rs.getString(col);
    }

    static void append(StringBuilder b, String v) {
        if (v == null) {
            b.append('~');
        } else {
            b.append(v.getBytes(StandardCharsets.UTF_8).length).append(':').append(v);
        }
    }
}
