package dev.cioerasure.audit;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * For the worker's own look-ups in the audit table, which must cost what they ask for, not what
 * the table holds: once asked, the planner may choose only indexes for the rest of the
 * transaction, whatever its statistics say (they can call a table of 100,000 rows a few
 * thousand, and choose a sequential scan).
 */
final class IndexReads {
    private IndexReads() { }

    /** Rules out table scans until the transaction on {@code c} (not in auto-commit) ends. */
    static void only(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("SET LOCAL enable_seqscan = off");
        }
    }
}
