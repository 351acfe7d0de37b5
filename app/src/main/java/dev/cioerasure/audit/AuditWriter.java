package dev.cioerasure.audit;

import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
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

    /**
     * The rows go in by COPY, in its text format: the same data columns, the same triggers (the
     * chain, the rules, append-only) as an INSERT, at less of the client's cost: a batched INSERT
     * had pgjdbc bind 18 parameters a row, over a third of the worker's sampled Java CPU in batch
     * mode; COPY saved 5-8 % of the worker's CPU per erasure (docs/benchmarks-by-hand.md).
     */
    private static final String COPY = "COPY audit_event (request_id, subject_hash, identifier_type, step, outcome,"
            + " http_status, attempts, reason, regulation, requested_at, deadline_at, requested_by, kafka_topic,"
            + " kafka_partition, kafka_offset, worker_instance, occurred_at, workspace) FROM STDIN";

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
            return Databases.describeState(sqlState) + ("none".equals(constraint) ? "" : ", constraint " + constraint);
        }
    }

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
        StringBuilder text = new StringBuilder(batch.size() * 512);
        for (Pending p : batch) {
            for (AuditEvent e : p.rows()) {
                appendRow(text, e);
                count++;
            }
        }
        byte[] data = text.toString().getBytes(StandardCharsets.UTF_8);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            CopyIn copy = null;
            try {
                copy = c.unwrap(PGConnection.class).getCopyAPI().copyIn(COPY);
                copy.writeToCopy(data, 0, data.length);
                copy.endCopy();
                c.commit();
            } catch (SQLException | RuntimeException | AssertionError e) {
                if (Databases.connectionLost(e)) {
                    // The COPY goes around the pool's wrapper, which so still takes the connection
                    // for sound. Ending the COPY and rolling back would each wait a socket timeout
                    // more for an answer that may never come (a failover: 120 s apiece). Closed now,
                    // the server ends the transaction (nothing committed) and the pool drops it.
                    abort(c, e);
                    Databases.evictIdle(dataSource);
                } else {
                    undo(c, copy, e);
                }
                throw e;
            }
        }
        sample.stop(writeTimer);
        batchRows.record(count);
    }

    /**
     * Closes a lost connection at once. When it was lost by waiting too long for an answer, the
     * server may still be working on the COPY, typically waiting for a lock (a migration, a DBA's
     * LOCK TABLE): its session would wait on, holding one of the server's connections, one more
     * for each attempt given up. A cancel request (a new connection carrying the session's key;
     * a server that does not know the key ignores it) ends it first.
     */
    private static void abort(Connection c, Throwable cause) {
        if (timedOut(cause)) {
            try {
                c.unwrap(PGConnection.class).cancelQuery();
            } catch (SQLException | RuntimeException e) {
                cause.addSuppressed(e);
            }
        }
        try {
            c.abort(Runnable::run);
        } catch (SQLException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.SocketTimeoutException) {
                return true;
            }
        }
        return false;
    }

    /** A statement failed on a sound connection (a constraint, a trigger's refusal): ends the COPY and the transaction. */
    private static void undo(Connection c, CopyIn copy, Throwable cause) {
        try {
            if (copy != null && copy.isActive()) {
                copy.cancelCopy();
            }
            c.rollback();
        } catch (SQLException | RuntimeException e) {
            cause.addSuppressed(e); // the connection is broken after all; the pool discards it
        }
    }

    /** One row in COPY's text format: the columns of {@link #COPY}, each ended by a tab, the last by a newline; {@code \N} for NULL. */
    private void appendRow(StringBuilder out, AuditEvent e) {
        field(out, e.requestId());
        field(out, e.subjectHash());
        field(out, e.identifierType());
        field(out, e.step().name());
        field(out, e.outcome().name());
        field(out, e.httpStatus());
        field(out, e.attempts());
        field(out, e.reason());
        field(out, e.regulation());
        field(out, e.requestedAt());
        field(out, e.deadlineAt());
        field(out, e.requestedBy());
        field(out, e.source() == null ? null : e.source().topic());
        field(out, e.source() == null ? null : e.source().partition());
        field(out, e.source() == null ? null : e.source().offset());
        field(out, workerInstance);
        field(out, e.occurredAt());
        field(out, e.workspace());
        out.setCharAt(out.length() - 1, '\n'); // the last field ends the line
    }

    private static void field(StringBuilder out, Object v) {
        if (v == null) {
            out.append("\\N");
        } else if (v instanceof Instant t) {
            // ISO 8601 in UTC, microseconds: what the column stores (PostgreSQL reads the 'T' and 'Z')
            out.append(t.truncatedTo(ChronoUnit.MICROS));
        } else if (v instanceof String str) {
            out.append(escape(str));
        } else {
            out.append(v); // a number
        }
        out.append('\t');
    }

    /**
     * A value as COPY's text format reads it back unchanged: backslash, tab, newline and carriage
     * return escaped. Every other character is data; with its backslash escaped, neither a value
     * of {@code \N} nor a line of {@code \.} can be read as NULL or as the end of the data.
     */
    static String escape(String v) {
        StringBuilder b = null;
        for (int i = 0; i < v.length(); i++) {
            char ch = v.charAt(i);
            String rep = switch (ch) {
                case '\\' -> "\\\\";
                case '\t' -> "\\t";
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                default -> null;
            };
            if (rep != null && b == null) {
                b = new StringBuilder(v.length() + 8).append(v, 0, i);
            }
            if (b != null) {
                if (rep != null) {
                    b.append(rep);
                } else {
                    b.append(ch);
                }
            }
        }
        return b == null ? v : b.toString();
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
