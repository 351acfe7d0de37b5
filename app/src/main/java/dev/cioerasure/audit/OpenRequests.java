package dev.cioerasure.audit;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The requests not yet erased, as {@code erasure_open_requests} lists them (parked, failed or
 * rejected, never completed), kept up to date from the rows appended since the last look.
 *
 * <p>Counting the view itself sorts every OUTCOME row ever written (107-331 ms at 100,000 rows,
 * and growing with the table's whole history). So the view is read once, on the first refresh;
 * after that each refresh reads only the OUTCOME rows appended since the one before (by
 * {@code chain_seq}), and asks which of the requests still open have completed since (by request
 * id). Its cost follows the new rows and the open requests, not the history.
 *
 * <p>Why {@code chain_seq} can serve as a watermark: every appending transaction holds the chain
 * head's row lock until it commits, so transactions commit in chain order and any snapshot sees
 * a prefix of the chain. Each refresh reads in one REPEATABLE READ snapshot.
 *
 * <p>The open requests are held in memory, one entry each. Beyond {@link #DEFAULT_MAX_TRACKED}
 * (an outage that left that many open) the summary is read from the view again on every refresh,
 * as before, until the open requests fit again.
 */
public final class OpenRequests {
    /**
     * Requests not yet erased: how many, how many overdue, and since when the oldest has been
     * open: its {@code requested_at}, or for one without (rejected: its message had no valid
     * request time), when its latest row was written, so that a rejection nobody corrects ages too.
     */
    public record Summary(long open, long overdue, Optional<Instant> oldestOpenSince) { }

    public static final int DEFAULT_MAX_TRACKED = 100_000;
    /** How long the read of the whole view may wait for an answer (the pool's connection gets its own timeout back after). */
    static final java.time.Duration WHOLE_VIEW_TIMEOUT = java.time.Duration.ofMinutes(30);

    /** The latest OUTCOME row of one open request: what the view reports for it, and when it was written. */
    private record Open(Instant requestedAt, Instant deadlineAt, Instant statusAt) {
        Instant openSince() {
            return requestedAt != null ? requestedAt : statusAt;
        }
    }

    /**
     * OUTCOME rows appended in (seen, top] for requests that have not completed (the view's rule:
     * ever completed means erased). The latest of a request stands: CLOSED (V14) closes it, any
     * other opens it (again), but for another identifier's record rejected under its id (V15).
     */
    private static final String OPENED = "SELECT e.request_id, e.requested_at, e.deadline_at, e.occurred_at, e.outcome FROM audit_event e"
            + " WHERE e.chain_seq > ? AND e.chain_seq <= ? AND e.step = 'OUTCOME' AND e.request_id IS NOT NULL"
            + " AND e.outcome NOT IN ('COMPLETED', 'DUPLICATE') AND " + AuditQueries.REUSED_ID_ROW + " IS NOT TRUE"
            + " AND NOT EXISTS (SELECT 1 FROM audit_event c WHERE c.request_id = e.request_id AND c.step = 'OUTCOME'"
            + " AND c.outcome = 'COMPLETED') ORDER BY e.chain_seq";
    /** Which of the open requests have completed since (at most one COMPLETED per request id, by a unique index). */
    private static final String COMPLETED_SINCE = "SELECT request_id FROM audit_event WHERE request_id = ANY(?) AND step = 'OUTCOME'"
            + " AND outcome = 'COMPLETED'";
    private static final String WHOLE_VIEW = "SELECT request_id, requested_at, deadline_at, status_at FROM erasure_open_requests";

    private final DataSource dataSource;
    private final int maxTracked;
    private final Map<String, Open> open = new HashMap<>();
    /** The chain position up to which {@link #open} is current; -1 while the view is read whole. */
    private long seenUpTo = -1;

    public OpenRequests(DataSource dataSource) {
        this(dataSource, DEFAULT_MAX_TRACKED);
    }

    OpenRequests(DataSource dataSource, int maxTracked) {
        this.dataSource = dataSource;
        this.maxTracked = maxTracked;
    }

    /** Brings the open requests up to date and summarises them at {@code now}. On an error nothing changes. */
    public synchronized Summary refresh(Instant now) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            c.setReadOnly(true);
            try {
                Summary s = seenUpTo < 0 ? load(c, now) : advance(c, now);
                c.commit();
                return s;
            } catch (SQLException | RuntimeException e) {
                Databases.rollbackAfter(c, e);
                throw e;
            }
        }
    }

    /** Reads the view whole, once: summarises every row, and keeps them when they fit. */
    private Summary load(Connection c, Instant now) throws SQLException {
        // the view sorts the whole history before its first row (minutes for a table of 100,000,000
        // rows): longer than the worker's connections wait for an answer (Databases.WORKER_SOCKET_TIMEOUT)
        c.setNetworkTimeout(Runnable::run, (int) WHOLE_VIEW_TIMEOUT.toMillis());
        long top = top(c);
        Tally all = new Tally(now);
        Map<String, Open> rows = new HashMap<>();
        try (Statement st = c.createStatement()) {
            st.setFetchSize(10_000); // streamed (the transaction is open): the rows past maxTracked are only counted
            try (ResultSet rs = st.executeQuery(WHOLE_VIEW)) {
                while (rs.next()) {
                    Open o = open(rs);
                    all.add(o);
                    if (rows != null) {
                        rows.put(rs.getString(1), o);
                        if (rows.size() > maxTracked) {
                            rows = null;
                        }
                    }
                }
            }
        }
        if (rows != null) {
            open.clear();
            open.putAll(rows);
            seenUpTo = top;
        }
        return all.summary();
    }

    /** Applies the rows appended since the last refresh. */
    private Summary advance(Connection c, Instant now) throws SQLException {
        IndexReads.only(c); // through chain_seq's and request_id's indexes: a table scan would bring back the history's cost
        long top = top(c);
        Map<String, Open> opened = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(OPENED)) {
            ps.setLong(1, seenUpTo);
            ps.setLong(2, top);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    // in chain order: the latest row stands; null marks a request closed without erasure
                    opened.put(rs.getString(1), "CLOSED".equals(rs.getString(5)) ? null : open(rs));
                }
            }
        }
        List<String> completed = new java.util.ArrayList<>();
        if (!open.isEmpty()) {
            try (PreparedStatement ps = c.prepareStatement(COMPLETED_SINCE)) {
                Array ids = c.createArrayOf("text", open.keySet().toArray());
                ps.setArray(1, ids);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        completed.add(rs.getString(1));
                    }
                }
                ids.free();
            }
        }
        opened.forEach((id, o) -> {
            if (o == null) {
                open.remove(id);
            } else {
                open.put(id, o);
            }
        });
        open.keySet().removeAll(completed);
        seenUpTo = top;
        Summary s = summary(now);
        if (open.size() > maxTracked) {
            open.clear();
            seenUpTo = -1;
        }
        return s;
    }

    private Summary summary(Instant now) {
        Tally t = new Tally(now);
        open.values().forEach(t::add);
        return t.summary();
    }

    /** Open requests counted one by one: how many, how many past their deadline at {@code now}, the oldest. */
    private static final class Tally {
        private final Instant now;
        private long count;
        private long overdue;
        private Instant oldest;

        Tally(Instant now) {
            this.now = now;
        }

        void add(Open o) {
            count++;
            if (o.deadlineAt() != null && now.isAfter(o.deadlineAt())) {
                overdue++;
            }
            Instant since = o.openSince();
            if (since != null && (oldest == null || since.isBefore(oldest))) {
                oldest = since;
            }
        }

        Summary summary() {
            return new Summary(count, overdue, Optional.ofNullable(oldest));
        }
    }

    /** How many requests are held one by one (0 while the view is read whole). */
    synchronized int tracked() {
        return open.size();
    }

    private static long top(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT coalesce(max(chain_seq), 0) FROM audit_event")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static Open open(ResultSet rs) throws SQLException {
        return new Open(instant(rs.getObject(2, OffsetDateTime.class)), instant(rs.getObject(3, OffsetDateTime.class)),
                instant(rs.getObject(4, OffsetDateTime.class)));
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
