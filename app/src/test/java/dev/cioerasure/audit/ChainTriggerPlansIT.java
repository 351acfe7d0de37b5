package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * Migration V11 lets the chain trigger plan its look-ups once per connection instead of on every
 * row. Two plans it must not bring: a look-up in {@code audit_event} made while the table was empty
 * being a sequential scan, which a long-lived connection would keep using as the table grows (the
 * reason V3 planned on every row); and the chain head read through its primary key, which walks
 * every dead version of that one, often-updated row. So: a connection whose first appends go to an
 * empty, analysed table, and whose plans PostgreSQL's auto_explain reports to it, looks up rows by
 * index and reads the head by a sequential scan.
 */
class ChainTriggerPlansIT {
    /** The statement-level trigger's first look-up: what comes after it is not the row trigger's. */
    private static final String AFTER_INSERT_TRIGGER = "SELECT h.last_seq FROM public.audit_chain_head h WHERE h.singleton";

    @Test
    void aConnectionThatFirstAppendsToAnEmptyTableLooksUpRowsByIndexAndTheHeadByScan() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("plans");
        Migrations.migrate(ds);
        List<String> rowTrigger = new ArrayList<>();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            reportPlans(st);
            for (String row : ChainAppendMigrationIT.ROWS) {
                st.execute(ChainAppendMigrationIT.COLUMNS + row);
                rowTrigger.addAll(rowTriggerPlans(st)); // one statement (one row) at a time
                st.clearWarnings();
            }
        }
        String all = String.join("\n", rowTrigger);
        assertThat(rowTrigger).as("the row trigger's look-ups were reported").hasSizeGreaterThan(2 * ChainAppendMigrationIT.ROWS.size());
        assertThat(all).as("the look-ups of each kind of row")
                .contains("Index Scan Backward using audit_event_chain_seq_key")
                .contains("using audit_event_one_outcome_per_record")
                .contains("using audit_event_one_completion_per_request")
                .contains("using audit_event_one_workspace_outcome_per_record")
                .contains("using audit_event_one_success_per_request_and_workspace")
                .contains("using audit_event_one_verification_per_request_and_workspace");
        assertThat(all).as("no look-up scans the audit table").doesNotContain("Seq Scan on audit_event ")
                .doesNotContain("Bitmap Heap Scan on audit_event ");
        assertThat(all).as("the head's one row, read without walking its dead versions through an index")
                .contains("Seq Scan on audit_chain_head").doesNotContain("using audit_chain_head_pkey");
        assertThat(new ChainVerifier(ds).verify().intact()).isTrue();
    }

    /**
     * Migration V12: a transaction takes the head's lock at its first row; its other rows find the
     * head as the chain's last row (their own) and run their rules in the same query, by index.
     */
    @Test
    void aTransactionLocksTheHeadOnceAndItsOtherRowsLookUpByIndex() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("plansmany");
        Migrations.migrate(ds);
        List<String> rowTrigger = new ArrayList<>();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            reportPlans(st);
            c.setAutoCommit(false);
            st.execute(ChainAppendMigrationIT.COLUMNS + String.join(", ", ChainAppendMigrationIT.ROWS));
            rowTrigger.addAll(rowTriggerPlans(st));
            c.commit();
        }
        assertThat(rowTrigger.stream().filter(p -> p.contains("FROM public.audit_chain_head h FOR UPDATE")))
                .as("the head's lock, taken by the transaction's first row only").hasSize(1);
        assertThat(rowTrigger.stream().filter(p -> p.contains("xmin = pg_catalog.pg_current_xact_id()")))
                .as("every row first reads the chain's last row").hasSize(ChainAppendMigrationIT.ROWS.size());
        String all = String.join("\n", rowTrigger);
        assertThat(all).contains("Index Scan Backward using audit_event_chain_seq_key")
                .contains("using audit_event_one_outcome_per_record")
                .contains("using audit_event_one_completion_per_request")
                .contains("using audit_event_one_workspace_outcome_per_record")
                .contains("using audit_event_one_success_per_request_and_workspace")
                .contains("using audit_event_one_verification_per_request_and_workspace")
                .doesNotContain("Seq Scan on audit_event ").doesNotContain("Bitmap Heap Scan on audit_event ");
        assertThat(new ChainVerifier(ds).verify().intact()).isTrue();
    }

    /**
     * The worker's first connections on a new install: they plan while the table holds a few rows
     * and has never been analysed (autovacuum's first analysis comes up to a minute later). Under
     * V12, PostgreSQL's estimates then cost a look-up of a request's completion through its index
     * ({@code one_completion_per_request}) the same as a walk through every outcome in the index of
     * outcomes by Kafka record, and took the walk: a connection kept that plan, and each outcome it
     * appended read every outcome before it, until the table was analysed (benchmark runs that sank
     * to a quarter of their pace, docs/benchmarks-by-hand.md). Migration V13 narrowed the indexes
     * by record so that no look-up by request can use them. So: every look-up by a rule goes
     * through an index condition, whatever the estimates.
     */
    @Test
    void aConnectionThatFirstAppendsToASmallTableNeverAnalysedLooksUpEveryRuleByAnIndexCondition() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("plansunanalysed");
        Migrations.migrate(ds);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("ALTER TABLE audit_event SET (autovacuum_enabled = false)"); // no analysis while this test runs
        }
        ChainAppendMigrationIT.insertAll(ds);
        List<String> rowTrigger = new ArrayList<>();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            assertThat(neverAnalysed(st)).as("the table has rows and no statistics").isTrue();
            reportPlans(st, false);
            for (String row : ChainAppendMigrationIT.ROWS) {
                st.execute(ChainAppendMigrationIT.COLUMNS + row);
                rowTrigger.addAll(rowTriggerPlans(st));
                st.clearWarnings();
            }
        }
        String all = String.join("\n", rowTrigger);
        assertThat(all).as("a request's completion, looked up through its own index")
                .containsPattern("using audit_event_one_completion_per_request on audit_event \\w+ \\(cost=[^)]*\\) Index Cond: \\(request_id = ")
                .containsPattern("using audit_event_one_success_per_request_and_workspace on audit_event \\w+ \\(cost=[^)]*\\)"
                        + " Index Cond: \\(\\(request_id = ");
        java.util.regex.Matcher scan = java.util.regex.Pattern.compile(
                "Index (?:Only )?Scan (Backward )?using (\\w+) on audit_event (\\w+) \\(cost=[^)]*\\)(?: (\\w+(?: \\w+)?):)?").matcher(all);
        int scans = 0;
        while (scan.find()) {
            scans++;
            if (scan.group(1) == null) {
                assertThat(scan.group(4)).as("look-up through %s (%s)", scan.group(2), scan.group(3)).isEqualTo("Index Cond");
            } else {
                assertThat(scan.group(2)).as("the only scan without a condition: the chain's last row").isEqualTo("audit_event_chain_seq_key");
            }
        }
        assertThat(scans).as("index scans of the audit table found in the plans").isGreaterThan(2 * ChainAppendMigrationIT.ROWS.size());
        assertThat(all).doesNotContain("Seq Scan on audit_event ").doesNotContain("Bitmap Heap Scan on audit_event ");
        assertThat(new ChainVerifier(ds).verify().intact()).isTrue();
    }

    private static boolean neverAnalysed(Statement st) throws Exception {
        try (java.sql.ResultSet rs = st.executeQuery("SELECT c.reltuples < 0 AND pg_relation_size(c.oid) > 0 FROM pg_class c"
                + " WHERE c.oid = 'public.audit_event'::regclass")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }

    /** Analyses the (empty) table, the worst case for a cached plan, and has every plan come back to this connection as a notice. */
    private static void reportPlans(Statement st) throws Exception {
        reportPlans(st, true);
    }

    /** Has every plan come back to this connection as a notice, after analysing the table first if {@code analyse}. */
    private static void reportPlans(Statement st, boolean analyse) throws Exception {
        if (analyse) {
            st.execute("ANALYZE audit_event");
        }
        st.execute("LOAD 'auto_explain'");
        st.execute("SET auto_explain.log_min_duration = 0");
        st.execute("SET auto_explain.log_nested_statements = on");
        st.execute("SET auto_explain.log_level = notice");
    }

    /** The plans the last statement reported, whitespace folded, up to the statement-level trigger's: the row trigger's come first. */
    private static List<String> rowTriggerPlans(Statement st) throws Exception {
        List<String> plans = new ArrayList<>();
        for (SQLWarning w = st.getWarnings(); w != null; w = w.getNextWarning()) {
            String plan = w.getMessage().replaceAll("\\s+", " ");
            if (plan.contains(AFTER_INSERT_TRIGGER)) {
                break;
            }
            plans.add(plan);
        }
        return plans;
    }
}
