package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The duplicate check reads only the asked requests' rows, however the planner weighs a table
 * scan: in a database where index reads are made to look ten thousand times dearer than they are
 * (random_page_cost), a look-up of 150 ids in a table of 20,000 rows scans no table and reads
 * only a few index entries per id, and still answers right.
 */
class OutcomeLookupIT {
    private static final int REQUESTS = 4_000;

    @Test
    void aLookUpReadsOnlyTheAskedRequestsRowsWhateverThePlannerThinksOfAScan() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("lookup");
        Migrations.migrate(ds);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            // 4,000 requests: even ones completed, odd ones failed; five rows each, through the chain trigger
            st.execute("INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome, kafka_topic,"
                    + " kafka_partition, kafka_offset, worker_instance, occurred_at, workspace)"
                    + " SELECT 'q-' || (g / 5), repeat('a', 64), 'id',"
                    + " (ARRAY['SUPPRESS', 'DESTROY', 'WORKSPACE', 'VERIFY', 'OUTCOME'])[g % 5 + 1],"
                    + " CASE WHEN (g / 5) % 2 = 0 THEN (ARRAY['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'VERIFIED', 'COMPLETED'])[g % 5 + 1]"
                    + " ELSE (ARRAY['SUCCEEDED', 'FAILED', 'FAILED', 'UNVERIFIABLE', 'FAILED'])[g % 5 + 1] END,"
                    + " 't', 0, g / 5, 'w', now(), CASE WHEN g % 5 = 4 THEN NULL ELSE 'default' END"
                    + " FROM generate_series(0, " + (REQUESTS * 5 - 1) + ") g");
            st.execute("ANALYZE audit_event");
            try (ResultSet rs = st.executeQuery("SELECT current_database()")) {
                rs.next();
                st.execute("ALTER DATABASE " + rs.getString(1) + " SET random_page_cost = 100000");
            }
            st.execute("SELECT pg_stat_force_next_flush()");
            st.execute("SELECT 1"); // the flush happens at the end of this transaction
        }
        long[] before = reads(ds);

        List<String> asked = new ArrayList<>();
        for (int i = 1000; i < 1100; i++) {
            asked.add("q-" + i);
        }
        for (int i = 0; i < 50; i++) {
            asked.add("never-seen-" + i);
        }
        List<Optional<Outcome>> answers = new ArrayList<>();
        ExecutorService askers = Executors.newFixedThreadPool(asked.size());
        try (OutcomeLookup lookup = new OutcomeLookup(ds)) {
            List<CompletableFuture<Optional<Outcome>>> futures = new ArrayList<>();
            for (String id : asked) {
                futures.add(CompletableFuture.supplyAsync(() -> lookup.finalOutcome(id), askers));
            }
            for (CompletableFuture<Optional<Outcome>> f : futures) {
                answers.add(f.get(30, TimeUnit.SECONDS));
            }
            // the record that decided it, so that the same record read again is known for a redo
            assertThat(lookup.standingAsync("q-1000").get(30, TimeUnit.SECONDS).outcomeRecords()).containsExactly("t-0@1000");
            assertThat(lookup.standingAsync("never-seen-0").get(30, TimeUnit.SECONDS).outcomeRecords()).isEmpty();
            // and whose subject it was, so that another subject's record under the id is known for another request
            assertThat(lookup.standingAsync("q-1001").get(30, TimeUnit.SECONDS).outcomeSubjects()).containsExactly("a".repeat(64));
            assertThat(lookup.standingAsync("never-seen-0").get(30, TimeUnit.SECONDS).outcomeSubjects()).isEmpty();
        } finally {
            askers.shutdownNow();
        }
        for (int i = 0; i < asked.size(); i++) {
            Optional<Outcome> expected = i >= 100 ? Optional.empty()
                    : Optional.of((1000 + i) % 2 == 0 ? Outcome.COMPLETED : Outcome.FAILED);
            assertThat(answers.get(i)).as(asked.get(i)).isEqualTo(expected);
        }

        // the look-ups' backends flush their statistics when their connections close
        await().atMost(Duration.ofSeconds(15)).until(() -> {
            long[] now = reads(ds);
            return now[0] + now[1] > before[0] + before[1];
        });
        long[] after = reads(ds);
        assertThat(after[0] - before[0]).as("sequential scans of audit_event").isZero();
        assertThat(after[2] - before[2]).as("index entries read (150 ids, at most five rows each)").isLessThanOrEqualTo(1_000);
    }

    /** audit_event's sequential scans, index scans and index entries read, as the statistics say now. */
    static long[] reads(DataSource ds) throws Exception {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT t.seq_scan, t.idx_scan, (SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i"
                     + " WHERE i.relid = t.relid) FROM pg_stat_user_tables t WHERE t.relname = 'audit_event'")) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2), rs.getLong(3)};
        }
    }
}
