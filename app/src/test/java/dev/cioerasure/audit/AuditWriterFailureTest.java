package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import org.junit.jupiter.api.Test;

/** What the log and the failure counter say about a failed audit write: the SQLState, named, never row values. */
class AuditWriterFailureTest {
    @Test
    void aCancelledStatementIsNamedAsTheStatementTimeout() {
        SQLException e = new SQLException("ERROR: canceling statement due to statement timeout", "57014");
        assertThat(AuditWriter.Failure.of(new RuntimeException(e)).describe(e)).isEqualTo("SQLState 57014 query_canceled (statement_timeout)");
    }

    @Test
    void anUnnamedStateIsGivenAsItIsAndAFailureWithoutOneByItsClass() {
        SQLException e = new SQLException("no", "XX000");
        assertThat(AuditWriter.Failure.of(e).describe(e)).isEqualTo("SQLState XX000");
        IllegalStateException other = new IllegalStateException("row values never shown");
        assertThat(AuditWriter.Failure.of(other).describe(other)).isEqualTo("IllegalStateException");
    }
}
