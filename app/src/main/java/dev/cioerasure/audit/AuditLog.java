package dev.cioerasure.audit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/** Read-side queries the worker needs. */
public final class AuditLog {
    private final DataSource dataSource;

    public AuditLog(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** The requests not yet erased, tracked from here on (see {@link OpenRequests}). */
    public OpenRequests openRequests() {
        return new OpenRequests(dataSource);
    }

    /** Whether the request already has its VERIFY row (its verification is finished) in the workspace (null: the row without a workspace, from before workspaces). */
    public boolean isVerified(String requestId, String workspace) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT 1 FROM audit_event WHERE request_id = ? AND step = 'VERIFY'"
                     + " AND workspace IS NOT DISTINCT FROM ?")) {
            ps.setString(1, requestId);
            ps.setString(2, workspace);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * How far this machine's clock is ahead of the database's (negative: behind): the database's
     * {@code clock_timestamp()} against this clock at the middle of the round trip, so the
     * network's delay cancels out to within half the round trip.
     */
    public java.time.Duration clockSkew(java.time.Clock clock) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT clock_timestamp()")) {
            long before = clock.millis();
            try (ResultSet rs = ps.executeQuery()) {
                long after = clock.millis();
                rs.next();
                java.time.Instant db = rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
                return java.time.Duration.ofMillis((before + after) / 2 - db.toEpochMilli());
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
