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
 * row. The risk it must not bring back (the reason V3 planned on every row): a plan made while the
 * audit table was empty being a sequential scan, which a long-lived connection would keep using
 * as the table grows. So: a connection whose first appends go to an empty, analysed table, and
 * whose plans PostgreSQL's auto_explain reports to it, looks up every row by index.
 */
class ChainTriggerPlansIT {

    @Test
    void aConnectionThatFirstAppendsToAnEmptyTableLooksUpByIndex() throws Exception {
        DataSource ds = ChainAppendMigrationIT.freshDatabase("plans");
        Migrations.migrate(ds);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("ANALYZE audit_event"); // the statistics of an empty table: the worst case for a cached plan
            st.execute("LOAD 'auto_explain'");
            st.execute("SET auto_explain.log_min_duration = 0");
            st.execute("SET auto_explain.log_nested_statements = on");
            st.execute("SET auto_explain.log_level = notice"); // the plans come back to this connection as notices
            List<String> plans = new ArrayList<>();
            for (String row : ChainAppendMigrationIT.ROWS) {
                st.execute(ChainAppendMigrationIT.COLUMNS + row);
                for (SQLWarning w = st.getWarnings(); w != null; w = w.getNextWarning()) {
                    plans.add(w.getMessage());
                }
                st.clearWarnings();
            }
            List<String> lookUps = plans.stream().filter(p -> !p.contains("INSERT INTO audit_event")).toList();
            String all = String.join("\n", lookUps);
            assertThat(lookUps).as("the trigger's look-ups were reported").hasSizeGreaterThan(2 * ChainAppendMigrationIT.ROWS.size());
            assertThat(all).as("the look-ups of each kind of row")
                    .contains("Index Scan Backward using audit_event_chain_seq_key")
                    .contains("using audit_chain_head_pkey")
                    .contains("using audit_event_one_outcome_per_record")
                    .contains("using audit_event_one_completion_per_request")
                    .contains("using audit_event_one_workspace_outcome_per_record")
                    .contains("using audit_event_one_success_per_request_and_workspace")
                    .contains("using audit_event_one_verification_per_request_and_workspace");
            assertThat(all).as("no look-up scans the table").doesNotContain("Seq Scan on audit_event ")
                    .doesNotContain("Bitmap Heap Scan on audit_event ");
        }
        assertThat(new ChainVerifier(ds).verify().intact()).isTrue();
    }
}
