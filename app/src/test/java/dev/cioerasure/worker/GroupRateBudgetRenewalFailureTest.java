package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.erasure.Paced;
import dev.cioerasure.testing.LogCapture;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A renewal that fails on a lost connection says why with the SQLState of the first error: the
 * rollback after it fails too (the connection is gone), and once masked it, so that the warning
 * read "(SQLState null)".
 */
class GroupRateBudgetRenewalFailureTest {

    @Test
    void aLostConnectionIsReportedWithItsSqlStateNotTheFailedRollbacks() {
        GroupRateBudget budget = new GroupRateBudget(lostConnection(), "worker-1", 100, Duration.ofSeconds(5), new NoCalls(), () -> 0);
        try (LogCapture logs = LogCapture.capture()) {
            budget.renew();
            assertThat(budget.healthy()).isFalse();
            assertThat(logs.lines()).anyMatch(l -> l.contains("cannot renew this instance's share of the track rate (SQLState 08006 connection failure)"))
                    .noneMatch(l -> l.contains("SQLState null"));
        }
    }

    @Test
    void anErrorWithoutSqlStateIsNamedByItsKind() {
        assertThat(dev.cioerasure.audit.Databases.why(new SQLException("closed"))).isEqualTo("SQLException");
        assertThat(dev.cioerasure.audit.Databases.why(new SQLException("refused", "08001"))).isEqualTo("SQLState 08001 connection refused");
        assertThat(dev.cioerasure.audit.Databases.why(new IllegalStateException("x"))).isEqualTo("IllegalStateException");
    }

    /** A database whose connection broke: every statement fails with 08006, and so does the rollback, without a state. */
    private static DataSource lostConnection() {
        Connection c = (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "setAutoCommit", "close" -> null;
                    case "rollback" -> throw new SQLException("This connection has been closed.");
                    case "isClosed" -> true;
                    default -> throw new SQLException("An I/O error occurred while sending to the backend.", "08006");
                });
        // only getConnection is called
        return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
                (proxy, m, args) -> {
                    if (m.getName().equals("getConnection")) {
                        return c;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    /** An executor that never calls: the budget only sets its grant. */
    private static final class NoCalls implements Paced {
        @Override
        public void setGrant(int callsPerSecond, long validUntilNanos) {
        }

        @Override
        public int occupied() {
            return 0;
        }

        @Override
        public int waiting() {
            return 0;
        }

        @Override
        public int callsPerSecond() {
            return 0;
        }
    }
}
