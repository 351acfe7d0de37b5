package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.TestInfra;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.awaitility.Awaitility;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * Migration V10 (a cheaper chain append) changes how the trigger works, not what it does: the same
 * rows, inserted into a database at V9 and into one at V10, come out with the same outcomes, the
 * same reasons and the same skips, and V10's canonical form of every row written under V9 is the
 * one V9 hashed, so the chain verifies across the migration. (The database "at V10" is migrated
 * to the latest version: V11 changes only how the trigger's look-ups are planned.)
 *
 * <p>Migration V12 reads the head from the chain's last row once a transaction holds the head's
 * lock, and runs a row's rules in the same query: the same rows, written many to a transaction
 * (as the audit writer does), come out as V11 wrote them, one statement each or all in one.
 */
class ChainAppendMigrationIT {
    static final String COLUMNS = "INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome,"
            + " http_status, attempts, reason, regulation, requested_at, deadline_at, requested_by, kafka_topic, kafka_partition,"
            + " kafka_offset, worker_instance, occurred_at, workspace) VALUES ";
    private static final String HASH = "'" + "ab".repeat(32) + "'";

    /** Every kind of row the worker writes, and the replays and repeats the trigger skips or marks. */
    static final List<String> ROWS = List.of(
            // request r1 in two workspaces, then its outcome; every field set, timestamps with microseconds and before 1970
            "('r1', " + HASH + ", 'email', 'SUPPRESS', 'SUCCEEDED', 200, 1, NULL, 'GDPR', '1969-07-20 20:17:40.123456+00',"
                    + " '2026-12-29 00:00:00.000001+00', 'privacy-team', 'erasure.requests', 0, 7, 'w-1', now(), 'brand-us')",
            "('r1', " + HASH + ", 'email', 'DESTROY', 'SUCCEEDED', 200, 2, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests', 0, 7, 'w-1', now(), 'brand-us')",
            "('r1', " + HASH + ", 'email', 'WORKSPACE', 'SUCCEEDED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests', 0, 7, 'w-1', now(), 'brand-us')",
            "('r1', " + HASH + ", 'email', 'WORKSPACE', 'FAILED', 503, 5, 'http 503 — ünavailable', 'GDPR', now(), now(),"
                    + " 'privacy-team', 'erasure.requests', 0, 7, 'w-1', now(), 'brand-eu')",
            "('r1', " + HASH + ", 'email', 'OUTCOME', 'FAILED', NULL, NULL, 'failed in brand-eu', 'GDPR', now(), now(),"
                    + " 'privacy-team', 'erasure.requests', 0, 7, 'w-1', now(), NULL)",
            // the same Kafka record replayed after a crash: its OUTCOME and its WORKSPACE rows are skipped
            "('r1', " + HASH + ", 'email', 'WORKSPACE', 'SUCCEEDED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests', 0, 7, 'w-1', now(), 'brand-us')",
            "('r1', " + HASH + ", 'email', 'OUTCOME', 'COMPLETED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests', 0, 7, 'w-1', now(), NULL)",
            // a retry round (another record) succeeds in brand-eu and completes r1
            "('r1', " + HASH + ", 'email', 'WORKSPACE', 'SUCCEEDED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests.retry', 0, 1, 'w-2', now(), 'brand-eu')",
            "('r1', " + HASH + ", 'email', 'OUTCOME', 'COMPLETED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests.retry', 0, 1, 'w-2', now(), NULL)",
            // a duplicate request for r1 (another record): a success again in brand-us, COMPLETED again
            "('r1', " + HASH + ", 'email', 'WORKSPACE', 'SUCCEEDED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests', 1, 3, 'w-2', now(), 'brand-us')",
            "('r1', " + HASH + ", 'email', 'OUTCOME', 'COMPLETED', NULL, NULL, NULL, 'GDPR', now(), now(), 'privacy-team',"
                    + " 'erasure.requests', 1, 3, 'w-2', now(), NULL)",
            // verification: one per request and workspace, a repeat skipped; a legacy one without a workspace
            "('r1', NULL, NULL, 'VERIFY', 'VERIFIED', 404, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'w-2', now(), 'brand-us')",
            "('r1', NULL, NULL, 'VERIFY', 'STILL_PRESENT', 200, 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'w-2', now(), 'brand-us')",
            "('r1', NULL, NULL, 'VERIFY', 'UNVERIFIABLE', NULL, 0, 'no App API key', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'w-2',"
                    + " now(), NULL)",
            "('r1', NULL, NULL, 'VERIFY', 'UNVERIFIABLE', NULL, 0, 'again', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'w-2', now(), NULL)",
            // a rejected record (no request id, almost nothing known) and a retry scheduled
            "(NULL, NULL, NULL, 'OUTCOME', 'REJECTED', NULL, NULL, 'not JSON', NULL, NULL, NULL, NULL, 'erasure.requests', 2, 9, 'w-1',"
                    + " now(), NULL)",
            "('r2', " + HASH + ", 'id', 'OUTCOME', 'RETRY_SCHEDULED', 429, 5, 'rate limited', 'CCPA', now(), NULL, NULL,"
                    + " 'erasure.requests', 2, 10, 'w-1', now(), NULL)");

    @Test
    void v10DecidesAndHashesEveryKindOfRowAsV9Did() throws Exception {
        DataSource atV9 = migratedTo("v9", "9");
        DataSource atV10 = migratedTo("v10", null);

        List<String> underV9 = insertAll(atV9);
        List<String> underV10 = insertAll(atV10);
        assertThat(underV10).as("outcomes, reasons and skipped rows").isEqualTo(underV9);
        assertThat(underV9).hasSize(ROWS.size() - 4); // two replays and one repeated verification of each kind skipped
        assertThat(underV9).anyMatch(r -> r.contains("DUPLICATE"));

        List<String> v9Canonical = canonical(atV9);
        Migrations.migrate(atV9);
        assertThat(canonical(atV9)).as("V10's canonical form of the rows V9 wrote").isEqualTo(v9Canonical);
        insertAll(atV9); // the same again under V10, chained on after the rows V9 wrote
        ChainVerifier.Result across = new ChainVerifier(atV9).verify();
        assertThat(across.intact()).as("the chain across the migration").isTrue();
        assertThat(across.rowsChecked()).isGreaterThan(underV9.size());
        assertThat(new ChainVerifier(atV10).verify().intact()).isTrue();
    }

    @Test
    void v12DecidesAndChainsEveryKindOfRowAsV11DidWhenATransactionWritesMany() throws Exception {
        DataSource atV11 = migratedTo("v11", "11");
        DataSource atV12 = migratedTo("v12", null);

        List<String> underV11 = insertAllInOneTransaction(atV11, false);
        assertThat(insertAllInOneTransaction(atV12, false)).as("one statement a row, one transaction").isEqualTo(underV11);
        assertThat(underV11).hasSize(ROWS.size() - 4).anyMatch(r -> r.contains("DUPLICATE"));

        // all the rows in one statement, as COPY sends a batch; every rule looks at the rows before it
        DataSource oneStatementV11 = migratedTo("v11s", "11");
        DataSource oneStatementV12 = migratedTo("v12s", null);
        List<String> statementV11 = insertAllInOneTransaction(oneStatementV11, true);
        assertThat(insertAllInOneTransaction(oneStatementV12, true)).as("one statement for all the rows").isEqualTo(statementV11);
        assertThat(statementV11).isEqualTo(underV11);

        for (DataSource ds : List.of(atV11, atV12, oneStatementV11, oneStatementV12)) {
            assertChainIntact(ds, underV11.size());
        }
    }

    /**
     * Migration V13 narrows the two "one row per Kafka record" indexes to rows that carry a record
     * (ChainTriggerPlansIT says why). Rows written before it stay and chain on, and the indexes still
     * refuse a second outcome, or a second outcome in a workspace, of one record (a failed one: a
     * success in a workspace has an index of its own), even from a writer that gets past the
     * trigger's skip (here: the trigger switched off by the superuser).
     */
    @Test
    void v13KeepsTheRowsAndStillRefusesASecondOutcomeOfOneKafkaRecord() throws Exception {
        DataSource ds = migratedTo("v13", "12");
        int rows = insertAll(ds).size();
        Migrations.migrate(ds);
        assertChainIntact(ds, rows);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute("ALTER TABLE audit_event DISABLE TRIGGER USER");
            for (String step : List.of("OUTCOME", "WORKSPACE")) {
                st.execute("SAVEPOINT again");
                String copy = "INSERT INTO audit_event (chain_seq, recorded_at, prev_hash, row_hash, request_id, step, outcome,"
                        + " kafka_topic, kafka_partition, kafka_offset, worker_instance, occurred_at, workspace)"
                        + " SELECT (SELECT max(chain_seq) + 1 FROM audit_event), now(), 'x', 'y', request_id, step, outcome,"
                        + " kafka_topic, kafka_partition, kafka_offset, worker_instance, occurred_at, workspace"
                        + " FROM audit_event WHERE step = '" + step + "' AND outcome = 'FAILED' AND kafka_topic IS NOT NULL ORDER BY chain_seq LIMIT 1";
                assertThatThrownBy(() -> st.execute(copy)).as("a second %s row of one Kafka record", step)
                        .isInstanceOfSatisfying(java.sql.SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("23505"))
                        .hasMessageContaining(step.equals("OUTCOME") ? "audit_event_one_outcome_per_record" : "audit_event_one_workspace_outcome_per_record");
                st.execute("ROLLBACK TO SAVEPOINT again");
            }
            c.rollback();
        }
    }

    @Test
    void rowsWrittenInSavepointsChainOnWhetherTheSavepointIsReleasedOrRolledBack() throws Exception {
        DataSource ds = migratedTo("savepoints", null);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            st.execute(COLUMNS + ROWS.get(0));
            st.execute("SAVEPOINT a");
            st.execute(COLUMNS + ROWS.get(1) + ", " + ROWS.get(2)); // rows of the savepoint's own transaction id
            st.execute("RELEASE SAVEPOINT a");
            st.execute(COLUMNS + ROWS.get(3));
            st.execute("SAVEPOINT b");
            st.execute(COLUMNS + ROWS.get(4));
            st.execute("ROLLBACK TO SAVEPOINT b"); // its row is gone; the head it moved is moved back
            st.execute(COLUMNS + ROWS.get(6) + ", " + ROWS.get(7));
            c.commit();
            try (ResultSet rs = st.executeQuery("SELECT string_agg(chain_seq::text, ',' ORDER BY chain_seq),"
                    + " (SELECT last_seq FROM audit_chain_head) FROM audit_event")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("1,2,3,4,5,6");
                assertThat(rs.getLong(2)).as("the stored head").isEqualTo(6);
            }
        }
        assertChainIntact(ds, 6);
    }

    @Test
    void aTransactionThatWaitedForTheHeadSeesInItsRulesWhatWasCommittedMeanwhile() throws Exception {
        DataSource ds = migratedTo("waiting", null);
        String suppress = "('r9', " + HASH + ", 'id', 'SUPPRESS', 'SUCCEEDED', 200, 1, NULL, 'GDPR', now(), now(), NULL,"
                + " 'erasure.requests', 5, %d, 'w-%d', now(), 'brand-us')";
        String completed = "('r9', " + HASH + ", 'id', 'OUTCOME', 'COMPLETED', NULL, NULL, NULL, 'GDPR', now(), now(), NULL,"
                + " 'erasure.requests', 5, %d, 'w-%d', now(), NULL)";
        try (Connection first = ds.getConnection(); Connection second = ds.getConnection(); Connection watcher = ds.getConnection()) {
            // a committed row: the chain's last row, when each transaction begins, is no transaction's own
            watcher.createStatement().execute(COLUMNS + suppress.formatted(0, 0));
            first.setAutoCommit(false);
            second.setAutoCommit(false);
            first.createStatement().execute(COLUMNS + suppress.formatted(1, 1)); // the first holds the head's lock
            int secondPid = pid(second);
            // the second writes both its rows in one statement: the first waits for the lock, the
            // second follows on from it, and its rule must see the first's COMPLETED, committed meanwhile
            CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
                try (Statement st = second.createStatement()) {
                    st.execute(COLUMNS + suppress.formatted(2, 2) + ", " + completed.formatted(2, 2));
                    second.commit();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> waitsForALock(watcher, secondPid));
            first.createStatement().execute(COLUMNS + completed.formatted(1, 1));
            first.commit();
            waiting.get(10, TimeUnit.SECONDS);
            try (Statement st = watcher.createStatement()) {
                assertThat(stored(st, 0)).containsExactly(
                        "SUPPRESS/brand-us/SUCCEEDED/null",
                        "SUPPRESS/brand-us/SUCCEEDED/null",
                        "OUTCOME/null/COMPLETED/null",
                        "SUPPRESS/brand-us/SUCCEEDED/null",
                        "OUTCOME/null/DUPLICATE/request was already completed; this outcome (COMPLETED) recorded as duplicate");
            }
        }
        assertChainIntact(ds, 5);
    }

    /**
     * Migration V17: a DUPLICATE of another person's completion says so, with that person's own
     * outcome, in either path of the trigger (a transaction's first row, and its rows after); a
     * copy of the same person's request reads as before. Fails at V16: every one read "request was
     * already completed; this outcome (…)".
     */
    @Test
    void aDuplicateOfAnotherIdentifiersCompletionSaysSoAndKeepsItsOutcome() throws Exception {
        DataSource ds = migratedTo("other", null);
        String hashB = "'" + "cd".repeat(32) + "'";
        String row = "('%s', %s, 'email', '%s', '%s', NULL, NULL, NULL, 'GDPR', now(), now(), NULL, 'erasure.requests', %d, %d,"
                + " 'w-1', now(), %s)";
        java.util.function.BiFunction<String, Integer, List<String>> request = (id, offset) -> List.of(
                row.formatted(id, HASH, "WORKSPACE", "SUCCEEDED", 0, offset, "'brand-us'"),
                row.formatted(id, HASH, "OUTCOME", "COMPLETED", 0, offset, "NULL"),
                // another person's record of the id, erased (it ran beside the first)
                row.formatted(id, hashB, "WORKSPACE", "SUCCEEDED", 1, offset, "'brand-us'"),
                row.formatted(id, hashB, "OUTCOME", "COMPLETED", 1, offset, "NULL"),
                // another one, failed
                row.formatted(id, hashB, "WORKSPACE", "FAILED", 2, offset, "'brand-us'"),
                row.formatted(id, hashB, "OUTCOME", "FAILED", 2, offset, "NULL"),
                // a copy of the first person's request
                row.formatted(id, HASH, "WORKSPACE", "SUCCEEDED", 1, offset + 1, "'brand-us'"),
                row.formatted(id, HASH, "OUTCOME", "COMPLETED", 1, offset + 1, "NULL"));
        List<String> rows = request.apply("r8", 10);
        List<String> expected = List.of(
                "WORKSPACE/brand-us/SUCCEEDED/null",
                "OUTCOME/null/COMPLETED/null",
                "WORKSPACE/brand-us/DUPLICATE/request id was already erased in this workspace for another identifier;"
                        + " this identifier's outcome (SUCCEEDED) recorded as duplicate",
                "OUTCOME/null/DUPLICATE/request id was already completed for another identifier; this identifier's outcome (COMPLETED)"
                        + " recorded as duplicate",
                "WORKSPACE/brand-us/DUPLICATE/request id was already erased in this workspace for another identifier;"
                        + " this identifier's outcome (FAILED) recorded as duplicate",
                "OUTCOME/null/DUPLICATE/request id was already completed for another identifier; this identifier's outcome (FAILED)"
                        + " recorded as duplicate",
                "WORKSPACE/brand-us/DUPLICATE/request was already erased in this workspace; this outcome (SUCCEEDED) recorded as duplicate",
                "OUTCOME/null/DUPLICATE/request was already completed; this outcome (COMPLETED) recorded as duplicate");
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            for (String r : rows) { // one transaction each: every row takes the path of a transaction's first row
                st.execute(COLUMNS + r);
            }
            assertThat(stored(st, 0)).isEqualTo(expected);
            c.setAutoCommit(false); // all in one transaction: the rows after the first take the other path
            st.execute(COLUMNS + String.join(", ", request.apply("r9", 20)));
            c.commit();
            assertThat(stored(st, rows.size())).isEqualTo(expected);
        }
        assertChainIntact(ds, 2 * rows.size());

        // the verification of the person erased beside is no forgery, but it is not theirs to write either
        AuditLog log = new AuditLog(ds);
        assertThat(log.verificationStanding("r8", "ab".repeat(32), "brand-us")).isEqualTo(AuditLog.VerificationStanding.DUE);
        assertThat(log.verificationStanding("r8", "cd".repeat(32), "brand-us")).isEqualTo(AuditLog.VerificationStanding.ERASED_BESIDE);
        assertThat(log.verificationStanding("r8", "ef".repeat(32), "brand-us")).isEqualTo(AuditLog.VerificationStanding.NOT_ERASED);
    }

    private static int pid(Connection c) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static boolean waitsForALock(Connection watcher, int pid) throws Exception {
        try (Statement st = watcher.createStatement();
             ResultSet rs = st.executeQuery("SELECT wait_event_type FROM pg_stat_activity WHERE pid = " + pid)) {
            return rs.next() && "Lock".equals(rs.getString(1));
        }
    }

    /** Inserts {@link #ROWS} in one transaction, one statement each or all in one; returns what was stored. */
    private static List<String> insertAllInOneTransaction(DataSource ds, boolean oneStatement) throws Exception {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            c.setAutoCommit(false);
            if (oneStatement) {
                st.execute(COLUMNS + String.join(", ", ROWS));
            } else {
                for (String row : ROWS) {
                    st.execute(COLUMNS + row);
                }
            }
            c.commit();
            return stored(st, 0);
        }
    }

    private static List<String> stored(Statement st, long after) throws Exception {
        List<String> stored = new ArrayList<>();
        try (ResultSet rs = st.executeQuery("SELECT step, workspace, outcome, reason FROM audit_event WHERE chain_seq > " + after
                + " ORDER BY chain_seq")) {
            while (rs.next()) {
                stored.add(rs.getString(1) + "/" + rs.getString(2) + "/" + rs.getString(3) + "/" + rs.getString(4));
            }
        }
        return stored;
    }

    /** A new database on the shared server, migrated to {@code version} (null: the latest). */
    private static DataSource migratedTo(String prefix, String version) throws Exception {
        DataSource ds = freshDatabase(prefix);
        if (version == null) {
            Migrations.migrate(ds);
        } else {
            Flyway.configure().dataSource(ds).locations("classpath:db/migration").target(version).load().migrate();
        }
        return ds;
    }

    private static void assertChainIntact(DataSource ds, int rows) throws Exception {
        ChainVerifier.Result r = new ChainVerifier(ds).verify();
        assertThat(r.intact()).as("chain intact: %s", r.firstBreak()).isTrue();
        assertThat(r.rowsChecked()).isEqualTo(rows);
    }

    /** A new, empty database on the shared server (not migrated). */
    static DataSource freshDatabase(String prefix) throws Exception {
        String name = prefix + "_" + ProcessHandle.current().pid() + "_" + System.nanoTime();
        try (Connection c = TestInfra.postgres().superuserDataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        return TestInfra.dataSource(new Settings.Database("jdbc:postgresql://localhost:" + TestInfra.postgres().port() + "/" + name,
                "postgres", Secret.of("DATABASE_PASSWORD", "postgres"), 3));
    }

    /** Inserts {@link #ROWS} one statement each; returns what was stored: step, workspace, outcome, reason. */
    static List<String> insertAll(DataSource ds) throws Exception {
        long before;
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            before = max(st);
            for (String row : ROWS) {
                st.execute(COLUMNS + row);
            }
            return stored(st, before);
        }
    }

    private static long max(Statement st) throws Exception {
        try (ResultSet rs = st.executeQuery("SELECT coalesce(max(chain_seq), 0) FROM audit_event")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<String> canonical(DataSource ds) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT public.audit_canonical(e) FROM audit_event e ORDER BY chain_seq")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
}
