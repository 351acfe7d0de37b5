package dev.cioerasure.audit;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The duplicate check ("has this request id already been completed or failed?") for many
 * requests at once: callers ask one id each, one thread answers whatever is queued with a single
 * query ({@link BatchingLoop}). While the database is unavailable the callers wait (the worker pauses); nothing is
 * guessed.
 */
public final class OutcomeLookup implements FinalOutcomes, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OutcomeLookup.class);
    private static final int MAX_BATCH = 500;
    /**
     * One look-up per asked id ({@code LATERAL}), each through an index that starts with request_id:
     * the rows read are those of the asked requests, however large the table grows. Asked ids
     * without rows come back with NULLs (no outcome, no workspaces).
     */
    private static final String QUERY = "SELECT r.id, s.completed, s.finished, s.erased_in, s.suppressed_in, s.decided_by, s.subjects"
            + " FROM unnest(?::text[]) AS r(id) CROSS JOIN LATERAL ("
            + " SELECT bool_or(step = 'OUTCOME' AND outcome = 'COMPLETED') AS completed, bool_or(step = 'OUTCOME') AS finished,"
            + " array_agg(workspace) FILTER (WHERE step = 'WORKSPACE') AS erased_in,"
            + " array_agg(workspace) FILTER (WHERE step = 'SUPPRESS' AND workspace IS NOT NULL) AS suppressed_in,"
            + " array_agg(kafka_topic || '-' || kafka_partition || '@' || kafka_offset) FILTER (WHERE step = 'OUTCOME') AS decided_by,"
            + " array_agg(DISTINCT subject_hash) FILTER (WHERE step = 'OUTCOME' AND subject_hash IS NOT NULL) AS subjects"
            + " FROM audit_event e WHERE e.request_id = r.id AND ((step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED'))"
            + " OR (step = 'WORKSPACE' AND outcome = 'SUCCEEDED') OR (step = 'SUPPRESS' AND outcome = 'SUCCEEDED'))) s";
    private static final Standing NONE = new Standing(Optional.empty(), java.util.Set.of(), java.util.Set.of());

    private record Ask(String requestId, CompletableFuture<Standing> answer) { }

    private final DataSource dataSource;
    private final BatchingLoop<Ask> loop;
    private volatile boolean closed;

    public OutcomeLookup(DataSource dataSource) {
        this.dataSource = dataSource;
        this.loop = new BatchingLoop<>("outcome-lookup", MAX_BATCH, a -> 1, Duration.ofSeconds(5), batch -> {
            Map<String, Standing> found = query(batch);
            for (Ask a : batch) {
                a.answer().complete(found.getOrDefault(a.requestId(), NONE));
            }
        }, (error, asks, first) -> {
            if (first) {
                log.warn("duplicate check failed ({}); {} request(s) wait until the database answers", Databases.why(error), asks);
            }
        }, (a, why) -> a.answer().completeExceptionally(
                // stopped (shutdown): the record is handed back, not failed
                new CancellationException("duplicate check abandoned: " + why.getClass().getSimpleName())));
    }

    /**
     * COMPLETED if the request was ever completed, else FAILED if it ever failed, else empty.
     * Blocks until the database has answered.
     *
     * @throws CancellationException when interrupted or closed (shutdown)
     */
    @Override
    public Optional<Outcome> finalOutcome(String requestId) {
        return standing(requestId).outcome();
    }

    /**
     * The final outcome and the workspaces completed in, in the same single query.
     *
     * @throws CancellationException when interrupted or closed (shutdown)
     */
    @Override
    public Standing standing(String requestId) {
        try {
            return standingAsync(requestId).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("shutting down during the duplicate check");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof CancellationException c ? c
                    : new CancellationException("duplicate check abandoned: " + e.getCause().getClass().getSimpleName());
        }
    }

    /**
     * {@link #standing}, answered with the batch it joins, on the look-up's thread (what follows
     * must not block). Fails with a {@link CancellationException} when closed (shutdown); while
     * the database is unavailable it stays unanswered (the worker pauses).
     */
    @Override
    public CompletableFuture<Standing> standingAsync(String requestId) {
        Ask ask = new Ask(requestId, new CompletableFuture<>());
        if (closed) {
            return CompletableFuture.failedFuture(new CancellationException("duplicate check closed"));
        }
        loop.submit(ask);
        return ask.answer();
    }

    private Map<String, Standing> query(List<Ask> batch) throws Exception {
        Map<String, Standing> found = new HashMap<>();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            // The look-up must never read the whole audit table: every record waits for it (one
            // thread serves them all), and a scan's cost grows with the table. As one query over
            // all asked ids (request_id = ANY), PostgreSQL chose a sequential scan of audit_event in
            // bench (4-75 ms a look-up at 100,000 rows, estimated as a table of a few thousand).
            // Per id, and with table scans ruled out, only look-ups by request_id's index are left.
            IndexReads.only(c);
            try {
                try (PreparedStatement ps = c.prepareStatement(QUERY)) {
                    Array ids = c.createArrayOf("text", batch.stream().map(Ask::requestId).distinct().toArray());
                    ps.setArray(1, ids);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            Optional<Outcome> outcome = rs.getBoolean(2) ? Optional.of(Outcome.COMPLETED)
                                    : rs.getBoolean(3) ? Optional.of(Outcome.FAILED) : Optional.empty();
                            found.put(rs.getString(1), new Standing(outcome, names(rs.getArray(4)), names(rs.getArray(5)),
                                    names(rs.getArray(6)), names(rs.getArray(7))));
                        }
                    }
                }
            } catch (SQLException | RuntimeException e) {
                Databases.rollbackAfter(c, e);
                throw e;
            }
            c.rollback(); // read only: nothing to keep, and SET LOCAL ends with the transaction
        }
        return found;
    }

    private static java.util.Set<String> names(Array a) throws java.sql.SQLException {
        // without NULLs: a row without Kafka coordinates has none to name
        return a == null ? java.util.Set.of() : java.util.Arrays.stream((String[]) a.getArray()).filter(java.util.Objects::nonNull)
                .collect(java.util.stream.Collectors.toSet());
    }

    @Override
    public void close() {
        closed = true;
        loop.stopNow();
    }
}
