package dev.cioerasure.audit;

import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.postgresql.util.PSQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Appends audit rows in batches ({@link BatchingLoop}): one thread gathers whatever is queued (up
 * to {@value #MAX_BATCH_ROWS} rows), inserts it in one transaction and only then completes each
 * caller's future. A caller may therefore treat a completed future as "durable" — the worker
 * commits a Kafka offset only after that.
 *
 * <p>While PostgreSQL is unavailable the batch is kept and retried with backoff, for as long
 * as it takes: rows describing Customer.io calls already made are never dropped. Meanwhile
 * {@link #isHealthy()} is false and the queue grows only as far as the worker's in-flight
 * limit lets it.
 */
public final class AuditWriter implements AuditSink, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AuditWriter.class);
    static final int MAX_BATCH_ROWS = 1000;
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

    private static final String INSERT = "INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome,"
            + " http_status, attempts, reason, regulation, requested_at, deadline_at, requested_by, kafka_topic,"
            + " kafka_partition, kafka_offset, worker_instance, occurred_at, workspace)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

    private record Pending(List<AuditEvent> rows, CompletableFuture<Void> done) { }

    private final DataSource dataSource;
    private final String workerInstance;
    private final BatchingLoop<Pending> loop;
    private final Timer writeTimer;
    private final DistributionSummary batchRows;
    private final MeterRegistry meters;
    private volatile String lastFailure;
    private volatile boolean healthy = true;
    private volatile boolean closing;

    public AuditWriter(DataSource dataSource, String workerInstance, MeterRegistry meters) {
        this.dataSource = dataSource;
        this.workerInstance = workerInstance;
        this.writeTimer = Timer.builder(MetricNames.AUDIT_WRITE)
                .description("One audit batch: insert and commit")
                .publishPercentileHistogram()
                .register(meters);
        this.batchRows = DistributionSummary.builder(MetricNames.AUDIT_BATCH_ROWS)
                .description("Rows per audit batch").register(meters);
        this.meters = meters;
        failureCounter(new Failure("none", "none")); // present at 0 from the start
        this.loop = new BatchingLoop<>("audit-writer", MAX_BATCH_ROWS, p -> p.rows().size(), MAX_BACKOFF, batch -> {
            write(batch);
            healthy = true;
            for (Pending p : batch) {
                p.done().complete(null);
            }
        }, (error, batches, first) -> {
            Failure f = Failure.of(error);
            String described = f.describe(error);
            if (first || !described.equals(lastFailure)) {
                log.error("audit write failed ({}), keeping {} pending batch(es) and retrying until it succeeds", described, batches);
            }
            lastFailure = described;
            healthy = false;
            failureCounter(f).increment();
        }, (p, why) -> p.done().completeExceptionally(why));
    }

    /** Queues rows; the future completes once they are committed (in order with all rows queued before). */
    @Override
    public CompletableFuture<Void> append(List<AuditEvent> rows) {
        if (closing) {
            return CompletableFuture.failedFuture(new IllegalStateException("audit writer is closed"));
        }
        Pending p = new Pending(List.copyOf(rows), new CompletableFuture<>());
        loop.submit(p);
        return p.done();
    }

    /** False while the last write failed (database unreachable); true again after a successful write. */
    public boolean isHealthy() {
        return healthy;
    }

    /**
     * Why a write failed, in terms that never carry row values: the SQLState and, when the
     * server names one, the constraint (both come from the schema, a bounded set).
     */
    record Failure(String sqlState, String constraint) {
        static Failure of(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof SQLException s && s.getSQLState() != null) {
                    // a batch failure carries the server's error as its next exception
                    String constraint = "none";
                    for (SQLException n = s; n != null; n = n.getNextException()) {
                        if (n instanceof PSQLException p && p.getServerErrorMessage() != null
                                && p.getServerErrorMessage().getConstraint() != null) {
                            constraint = p.getServerErrorMessage().getConstraint();
                            break;
                        }
                    }
                    return new Failure(s.getSQLState(), constraint);
                }
            }
            return new Failure("none", "none");
        }

        String describe(Throwable e) {
            if ("none".equals(sqlState)) {
                return e.getClass().getSimpleName();
            }
            return "SQLState " + sqlState + (SQL_STATES.containsKey(sqlState) ? " " + SQL_STATES.get(sqlState) : "")
                    + ("none".equals(constraint) ? "" : ", constraint " + constraint);
        }
    }

    /** Names of the SQLStates an operator is most likely to meet here (PostgreSQL appendix A). */
    private static final java.util.Map<String, String> SQL_STATES = java.util.Map.of(
            "23505", "unique_violation", "23514", "check_violation", "23502", "not_null_violation",
            "42501", "insufficient_privilege", "28P01", "invalid_password", "08001", "connection refused",
            "08006", "connection failure", "57P01", "admin_shutdown", "40001", "serialization_failure",
            "55P03", "lock_not_available");

    private Counter failureCounter(Failure f) {
        return Counter.builder(MetricNames.AUDIT_WRITE_FAILURES)
                .description("Audit batches that failed and will be retried, by SQLState and constraint (never row values)")
                .tag("sqlstate", f.sqlState()).tag("constraint", f.constraint())
                .register(meters);
    }

    /** Why the last write failed (SQLState, constraint), or null after a success; never row values. */
    public String lastFailure() {
        return healthy ? null : lastFailure;
    }

    private void write(List<Pending> batch) throws SQLException {
        Timer.Sample sample = Timer.start();
        int count = 0;
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(INSERT)) {
                for (Pending p : batch) {
                    for (AuditEvent e : p.rows()) {
                        bind(ps, e);
                        ps.addBatch();
                        count++;
                    }
                }
                ps.executeBatch();
                c.commit();
            } catch (SQLException | RuntimeException | AssertionError e) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is broken; the pool discards it
                }
                throw e;
            }
        }
        sample.stop(writeTimer);
        batchRows.record(count);
    }

    private void bind(PreparedStatement ps, AuditEvent e) throws SQLException {
        int i = 1;
        ps.setString(i++, e.requestId());
        ps.setString(i++, e.subjectHash());
        ps.setString(i++, e.identifierType());
        ps.setString(i++, e.step().name());
        ps.setString(i++, e.outcome().name());
        setInt(ps, i++, e.httpStatus());
        setInt(ps, i++, e.attempts());
        ps.setString(i++, e.reason());
        ps.setString(i++, e.regulation());
        setTime(ps, i++, e.requestedAt());
        setTime(ps, i++, e.deadlineAt());
        ps.setString(i++, e.requestedBy());
        if (e.source() != null) {
            ps.setString(i++, e.source().topic());
            ps.setInt(i++, e.source().partition());
            ps.setLong(i++, e.source().offset());
        } else {
            ps.setNull(i++, Types.VARCHAR);
            ps.setNull(i++, Types.INTEGER);
            ps.setNull(i++, Types.BIGINT);
        }
        ps.setString(i++, workerInstance);
        setTime(ps, i++, e.occurredAt());
        ps.setString(i, e.workspace());
    }

    private static void setInt(PreparedStatement ps, int i, Integer v) throws SQLException {
        if (v == null) {
            ps.setNull(i, Types.INTEGER);
        } else {
            ps.setInt(i, v);
        }
    }

    private static void setTime(PreparedStatement ps, int i, Instant t) throws SQLException {
        if (t == null) {
            ps.setNull(i, Types.TIMESTAMP_WITH_TIMEZONE);
        } else {
            ps.setObject(i, OffsetDateTime.ofInstant(t.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC));
        }
    }

    /**
     * Writes what is queued, waiting up to {@code timeout} for the database, then stops. Rows not
     * written by then are failed: their Kafka offsets were not committed, so they are redone.
     */
    public void close(Duration timeout) {
        closing = true;
        try {
            if (!loop.stopAfterDraining(timeout)) {
                log.warn("audit writer did not finish within {}; unwritten rows will be redone from Kafka", timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
