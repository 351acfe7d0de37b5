package dev.cioerasure.audit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import javax.sql.DataSource;

/** Read-side queries the worker needs. */
public final class AuditLog {
    private final DataSource dataSource;

    public AuditLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** The request's final outcome (COMPLETED or FAILED), if it has one. */
    public Optional<Outcome> finalOutcome(String requestId) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT outcome FROM audit_event WHERE request_id = ?"
                     + " AND step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED') LIMIT 1")) {
            ps.setString(1, requestId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(Outcome.valueOf(rs.getString(1))) : Optional.empty();
            }
        }
    }

    /** True when the database answers. */
    public boolean isReachable() {
        try (Connection c = dataSource.getConnection()) {
            return c.isValid(2);
        } catch (SQLException e) {
            return false;
        }
    }
}
