package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import java.util.Random;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The deadline gauges' open requests, kept up to date from the rows appended since the last
 * refresh, say what {@code erasure_open_requests} says, round after round of hostile histories;
 * and a refresh reads the new rows, not the history.
 */
class OpenRequestsIT {
    private static final String INSERT = "INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome,"
            + " regulation, requested_at, deadline_at, kafka_topic, kafka_partition, kafka_offset, worker_instance, occurred_at, reason)"
            + " VALUES (?, ?, 'id', ?, ?, 'GDPR', ?, ?, 't', 0, ?, 'w', now(), ?)";
    /** REUSED: a REJECTED row of another identifier's record under the id (REQUEST_ID_REUSED), as the worker writes it. */
    private static final String[] OUTCOMES = {"FAILED", "REJECTED", "RETRY_SCHEDULED", "RETRY_SCHEDULED", "COMPLETED", "DUPLICATE", "CLOSED",
            "REUSED"};
    private static final String REUSED_REASON = "REQUEST_ID_REUSED: the request id already has outcome FAILED for another identifier;"
            + " this one was not erased: submit it under a request id of its own";

    private final Random random = new Random(20261205);
    private long offset;

    @Test
    void roundAfterRoundTheTrackedSummaryIsTheViews() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("open");
        Migrations.migrate(ds);
        OpenRequests tracked = new OpenRequests(ds);
        OpenRequests untracked = new OpenRequests(ds, 10);
        Instant now = Instant.now();
        assertThat(tracked.refresh(now)).isEqualTo(new OpenRequests.Summary(0, 0, Optional.empty()));

        for (int round = 0; round < 8; round++) {
            appendRandomRows(ds, 150, round * 30, 60, now); // some requests of the rounds before, some new
            assertThat(tracked.refresh(now)).as("round " + round).isEqualTo(view(ds));
            assertThat(untracked.refresh(now)).as("round " + round + ", read from the view whole").isEqualTo(view(ds));
        }
        assertThat(view(ds).open()).as("the history leaves requests open, some overdue").isGreaterThan(10);
        assertThat(view(ds).overdue()).isPositive();
        assertThat(tracked.tracked()).as("held one by one, not read whole").isEqualTo(view(ds).open());
        assertThat(untracked.tracked()).as("more open than it may hold: read whole each time").isZero();

        // Everything still open completes: both come down to nothing.
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT request_id FROM erasure_open_requests")) {
            while (rs.next()) {
                append(c, rs.getString(1), "OUTCOME", "COMPLETED", now.minus(1, ChronoUnit.DAYS), now.plus(1, ChronoUnit.DAYS));
            }
        }
        assertThat(tracked.refresh(now)).isEqualTo(new OpenRequests.Summary(0, 0, Optional.empty())).isEqualTo(view(ds));
        assertThat(untracked.refresh(now)).isEqualTo(view(ds));
    }

    @Test
    void aRejectionNobodyCorrectsAgesFromWhenItWasRejected() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("open_rejected");
        Migrations.migrate(ds);
        Instant now = Instant.now();
        OpenRequests tracked = new OpenRequests(ds);
        tracked.refresh(now);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            append(c, "parked-1", "OUTCOME", "RETRY_SCHEDULED", now.minus(2, ChronoUnit.DAYS), now.plus(20, ChronoUnit.DAYS));
            // rejected 25 days ago: its message had no valid request time, so the row has none
            st.execute("INSERT INTO audit_event (request_id, step, outcome, kafka_topic, kafka_partition, kafka_offset, worker_instance,"
                    + " occurred_at) VALUES ('rejected-1', 'OUTCOME', 'REJECTED', 't', 0, " + (offset++) + ", 'w', now() - interval '25 days')");
        }
        OpenRequests.Summary s = tracked.refresh(now);
        assertThat(s.open()).isEqualTo(2);
        assertThat(s.oldestOpenSince()).as("the rejection, 25 days ago, not the parked request of 2 days")
                .hasValueSatisfying(t -> assertThat(Duration.between(t, now).toHours()).isBetween(599L, 600L));
        assertThat(new OpenRequests(ds).refresh(now)).as("the same when read from the view whole").isEqualTo(s).isEqualTo(view(ds));
    }

    /**
     * Another identifier's record rejected under a failed request's id (REQUEST_ID_REUSED) is not the
     * request's outcome: the request stays as it was, overdue since its own request time, for the
     * tracker and the view alike (before V15 the view took the reuse's row: not overdue, newer).
     */
    @Test
    void aRecordRejectedForReusingTheIdLeavesTheRequestAsItWas() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("open_reused");
        Migrations.migrate(ds);
        Instant now = Instant.now();
        OpenRequests tracked = new OpenRequests(ds);
        tracked.refresh(now);
        try (Connection c = ds.getConnection()) {
            append(c, "failed-1", "OUTCOME", "FAILED", now.minus(40, ChronoUnit.DAYS), now.minus(10, ChronoUnit.DAYS));
            append(c, "failed-1", "OUTCOME", "REUSED", now.minus(1, ChronoUnit.DAYS), now.plus(29, ChronoUnit.DAYS));
        }
        OpenRequests.Summary s = tracked.refresh(now);
        assertThat(s.open()).isEqualTo(1);
        assertThat(s.overdue()).as("the failed request's deadline, not the reuse's").isEqualTo(1);
        assertThat(s.oldestOpenSince()).hasValueSatisfying(t -> assertThat(Duration.between(t, now).toHours()).isBetween(959L, 960L));
        assertThat(view(ds)).isEqualTo(s);
        assertThat(new OpenRequests(ds).refresh(now)).as("the same when read from the view whole").isEqualTo(s);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT status FROM erasure_request_status WHERE request_id = 'failed-1'")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("FAILED");
        }
    }

    @Test
    void aRefreshReadsTheNewRowsNotTheHistory() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("open_cost");
        Migrations.migrate(ds);
        Instant now = Instant.now();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            // a history of 20,000 completed requests, with their SUPPRESS rows
            st.execute("INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome, kafka_topic,"
                    + " kafka_partition, kafka_offset, worker_instance, occurred_at)"
                    + " SELECT 'h-' || (g / 2), repeat('a', 64), 'id', CASE WHEN g % 2 = 0 THEN 'SUPPRESS' ELSE 'OUTCOME' END,"
                    + " CASE WHEN g % 2 = 0 THEN 'SUCCEEDED' ELSE 'COMPLETED' END, 'h', 0, g, 'w', now()"
                    + " FROM generate_series(0, 39999) g");
            for (int i = 0; i < 30; i++) {
                append(c, "open-" + i, "OUTCOME", "FAILED", now.minus(3, ChronoUnit.DAYS), now.minus(1, ChronoUnit.DAYS));
            }
            st.execute("ANALYZE audit_event");
            try (ResultSet rs = st.executeQuery("SELECT current_database()")) {
                rs.next();
                // index reads made to look ten thousand times dearer than they are: a planner that could scan would
                st.execute("ALTER DATABASE " + rs.getString(1) + " SET random_page_cost = 100000");
            }
        }
        OpenRequests tracked = new OpenRequests(ds);
        assertThat(tracked.refresh(now).open()).isEqualTo(30);

        try (Connection c = ds.getConnection()) {
            for (int i = 0; i < 10; i++) {
                append(c, "open-" + i, "OUTCOME", "COMPLETED", now.minus(3, ChronoUnit.DAYS), now.minus(1, ChronoUnit.DAYS));
            }
            for (int i = 0; i < 20; i++) {
                append(c, "new-" + i, "OUTCOME", i % 2 == 0 ? "COMPLETED" : "REJECTED", now.minus(1, ChronoUnit.DAYS),
                        now.plus(1, ChronoUnit.DAYS));
            }
        }
        long[] before = settled(ds);
        OpenRequests.Summary s = tracked.refresh(now);
        // each connection's backend reports its statistics when it closes
        await().atMost(Duration.ofSeconds(15)).until(() -> OutcomeLookupIT.reads(ds)[1] > before[1]);
        long[] after = OutcomeLookupIT.reads(ds);
        assertThat(after[0] - before[0]).as("sequential scans of audit_event").isZero();
        assertThat(after[2] - before[2]).as("index entries read: the 30 new rows, the 30 open ids, not the 40,000 of history")
                .isLessThanOrEqualTo(300);
        assertThat(s).isEqualTo(view(ds));
        assertThat(s.open()).isEqualTo(30);
        assertThat(s.overdue()).isEqualTo(20);
    }

    /** {@code rows} rows for {@code requests} requests from the {@code first}th on: every OUTCOME kind, some other rows, some without an id. */
    private void appendRandomRows(DataSource ds, int rows, int first, int requests, Instant now) throws Exception {
        try (Connection c = ds.getConnection()) {
            for (int i = 0; i < rows; i++) {
                String id = random.nextInt(20) == 0 ? null : "r-" + (first + random.nextInt(requests));
                String step = random.nextInt(5) == 0 ? "SUPPRESS" : "OUTCOME";
                String outcome = step.equals("SUPPRESS") ? "SUCCEEDED" : OUTCOMES[random.nextInt(OUTCOMES.length)];
                Instant requested = now.minus(2 + random.nextInt(100), ChronoUnit.DAYS).plusMillis(random.nextInt(1000));
                // a day or more either side of now: the view's now() and the refresh's agree on what is overdue
                Instant deadline = now.plus((random.nextBoolean() ? 1 : -1) * (1 + random.nextInt(30)), ChronoUnit.DAYS);
                append(c, id, step, outcome, random.nextInt(10) == 0 ? null : requested, random.nextInt(10) == 0 ? null : deadline);
            }
        }
    }

    private void append(Connection c, String requestId, String step, String outcome, Instant requestedAt, Instant deadlineAt)
            throws Exception {
        try (PreparedStatement ps = c.prepareStatement(INSERT)) {
            ps.setString(1, requestId);
            ps.setString(2, "ab".repeat(32));
            ps.setString(3, step);
            ps.setString(4, outcome);
            ps.setObject(5, requestedAt == null ? null : OffsetDateTime.ofInstant(requestedAt, ZoneOffset.UTC), Types.TIMESTAMP_WITH_TIMEZONE);
            ps.setObject(6, deadlineAt == null ? null : OffsetDateTime.ofInstant(deadlineAt, ZoneOffset.UTC), Types.TIMESTAMP_WITH_TIMEZONE);
            ps.setLong(7, offset++);
            if (outcome.equals("REUSED")) {
                ps.setString(4, "REJECTED");
            }
            ps.setString(8, outcome.equals("REUSED") ? REUSED_REASON : null);
            ps.executeUpdate();
        }
    }

    private static OpenRequests.Summary view(DataSource ds) throws Exception {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*), count(*) FILTER (WHERE overdue), min(coalesce(requested_at, status_at))"
                     + " FROM erasure_open_requests")) {
            rs.next();
            return new OpenRequests.Summary(rs.getLong(1), rs.getLong(2),
                    Optional.ofNullable(rs.getObject(3, OffsetDateTime.class)).map(OffsetDateTime::toInstant));
        }
    }

    /** The statistics once the appending connections' backends have reported theirs (unchanged for a second). */
    private static long[] settled(DataSource ds) throws Exception {
        long[] last = OutcomeLookupIT.reads(ds);
        for (int i = 0; i < 30; i++) {
            Thread.sleep(1000);
            long[] now = OutcomeLookupIT.reads(ds);
            if (java.util.Arrays.equals(now, last)) {
                return now;
            }
            last = now;
        }
        throw new AssertionError("the statistics of audit_event kept changing");
    }
}
