package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Logged in as the writer role (what the worker runs as), an attacker tries to steer or wedge the
 * chain trigger: look-alikes of every object the triggers touch (temporary tables, functions in
 * public), the old transaction-local head settings, and the columns the database owns. The chain
 * must stay intact and later appends must keep working.
 */
class AuditChainSteeringIT {
    private static final String FORGED = "f".repeat(64);
    private static final String DATA_COLUMNS = "request_id, subject_hash, identifier_type, step, outcome, regulation,"
            + " kafka_topic, kafka_partition, kafka_offset, worker_instance, occurred_at";

    private DataSource owner;
    private DataSource writer;

    @BeforeEach
    void writerOnAFreshDatabase() throws Exception {
        Settings.Database db = TestInfra.freshDatabase();
        owner = TestInfra.dataSource(db);
        String name = "steer_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = owner.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + name + " LOGIN PASSWORD 'w' IN ROLE cio_erasure_writer");
        }
        writer = TestInfra.dataSource(new Settings.Database(db.url(), name, Secret.of("P", "w"), 2));
    }

    private static AuditEvent row(String requestId, long offset) {
        Instant t = Instant.parse("2026-11-28T10:00:00Z");
        return new AuditEvent(requestId, "c".repeat(64), "id", Step.OUTCOME, Outcome.COMPLETED, null, null, null, "GDPR", t,
                t.plusSeconds(30 * 86400), "desk", new KafkaCoordinates("t", 0, offset), t);
    }

    private static String values(String requestId, long offset) {
        return "('" + requestId + "', '" + "c".repeat(64) + "', 'id', 'OUTCOME', 'COMPLETED', 'GDPR', 't', 0, " + offset
                + ", 'attacker', now())";
    }

    @Test
    void lookAlikesInTempAndPublicAndForgedSettingsDoNotMoveTheChain() throws Exception {
        try (AuditWriter w = new AuditWriter(writer, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("before", 1))).get(10, TimeUnit.SECONDS);
        }
        try (Connection c = writer.getConnection(); Statement st = c.createStatement()) {
            // Temporary look-alikes of both tables the trigger reads.
            st.execute("CREATE TEMP TABLE audit_chain_head (singleton boolean, last_seq bigint, last_hash text)");
            st.execute("INSERT INTO pg_temp.audit_chain_head VALUES (true, 999, '" + FORGED + "')");
            st.execute("CREATE TEMP TABLE audit_event (chain_seq bigint, row_hash text, step text, kafka_topic text,"
                    + " kafka_partition int, kafka_offset bigint, request_id text, outcome text)");
            st.execute("INSERT INTO pg_temp.audit_event VALUES (5000, '" + FORGED + "', 'OUTCOME', 't', 0, 3, 'x', 'COMPLETED')");
            // Look-alike functions in public, which a role may create there before PostgreSQL 15
            // (the migration revokes that); an unknown-typed literal would prefer these.
            tryExec(st, "CREATE FUNCTION public.convert_to(text, text) RETURNS bytea LANGUAGE sql AS $$ SELECT '\\x00'::bytea $$");
            tryExec(st, "CREATE FUNCTION public.encode(bytea, text) RETURNS text LANGUAGE sql AS $$ SELECT '" + FORGED + "' $$");
            tryExec(st, "CREATE FUNCTION public.date_trunc(text, timestamptz) RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$");
            // The head settings the trigger once kept per transaction.
            c.setAutoCommit(false);
            st.execute("SELECT set_config('cio_erasure.head_txid', txid_current()::text, true),"
                    + " set_config('cio_erasure.head_seq', '999', true), set_config('cio_erasure.head_hash', '" + FORGED + "', true)");
            st.execute("INSERT INTO public.audit_event (" + DATA_COLUMNS + ") VALUES " + values("attacker-1", 2) + ", " + values("attacker-2", 3));
            c.commit();
        }
        // Legitimate appends from another session still work, and the whole chain verifies.
        try (AuditWriter w = new AuditWriter(writer, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("after-1", 10), row("after-2", 11))).get(10, TimeUnit.SECONDS);
        }
        try (Connection c = owner.getConnection(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT string_agg(chain_seq::text, ',' ORDER BY chain_seq),"
                     + " bool_and(recorded_at > now() - interval '1 hour') FROM audit_event")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo("1,2,3,4,5");
            assertThat(rs.getBoolean(2)).as("recorded_at set by the real clock").isTrue();
        }
        ChainVerifier.Result verified = new ChainVerifier(owner).verify();
        assertThat(verified.intact()).as("chain intact after the attempts: %s", verified.firstBreak()).isTrue();
        assertThat(verified.rowsChecked()).isEqualTo(5);
    }

    /**
     * A writer login that holds CREATE on the database (GRANT ALL ON DATABASE, a common over-grant)
     * makes a schema named like itself, which PostgreSQL's default search path ({@code "$user",
     * public}) reads first, with a plain table called audit_event in it: without a fixed search
     * path the worker's rows would go there, outside the chain, where that login can edit them.
     */
    @Test
    void aSchemaNamedLikeTheWritersLoginCannotTakeTheWorkersRows() throws Exception {
        String name;
        try (Connection c = writer.getConnection(); Statement st = c.createStatement()) {
            name = c.getMetaData().getUserName();
        }
        try (Connection c = owner.getConnection(); Statement st = c.createStatement()) {
            st.execute("GRANT CREATE ON DATABASE " + c.getCatalog() + " TO " + name);
        }
        try (Connection c = writer.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA " + name);
            st.execute("CREATE TABLE " + name + ".audit_event AS SELECT * FROM public.audit_event WITH NO DATA");
        }
        Settings.Database login = new Settings.Database(((org.postgresql.ds.PGSimpleDataSource) writer).getUrl(), name,
                Secret.of("P", "w"), 2);
        try (var pool = Databases.pool(login, "steer", null); AuditWriter w = new AuditWriter(pool, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("real", 1))).get(10, TimeUnit.SECONDS);
            try (OutcomeLookup lookup = new OutcomeLookup(pool)) {
                assertThat(lookup.finalOutcome("real")).as("the worker reads the real table too").contains(Outcome.COMPLETED);
            }
        }
        try (Connection c = owner.getConnection(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT (SELECT count(*) FROM public.audit_event WHERE request_id = 'real'),"
                     + " (SELECT count(*) FROM " + name + ".audit_event)")) {
            rs.next();
            assertThat(rs.getLong(1)).as("the row is in the chained table").isEqualTo(1);
            assertThat(rs.getLong(2)).as("and not in the look-alike").isZero();
        }
        assertThat(new ChainVerifier(owner).verify().rowsChecked()).isEqualTo(1);
    }

    @Test
    void theDatabaseOwnsIdAndChainColumns() throws Exception {
        try (Connection c = writer.getConnection(); Statement st = c.createStatement()) {
            // An explicit id would occupy a sequence value a later insert needs (a wedge); chain columns are the trigger's.
            for (String column : List.of("id", "chain_seq", "prev_hash", "row_hash", "recorded_at")) {
                String value = switch (column) {
                    case "id", "chain_seq" -> "1000000";
                    case "recorded_at" -> "now()";
                    default -> "'" + FORGED + "'";
                };
                assertThatThrownBy(() -> st.execute("INSERT INTO public.audit_event (" + column + ", " + DATA_COLUMNS + ") VALUES ("
                        + value + ", " + values("attacker", 4).substring(1))).as(column).hasMessageContaining("permission denied");
            }
        }
        try (AuditWriter w = new AuditWriter(writer, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("legit", 1))).get(10, TimeUnit.SECONDS);
        }
        assertThat(new ChainVerifier(owner).verify().intact()).isTrue();
    }

    @Test
    void aWriteThatKeepsFailingSaysWhyInTheLogAndTheMetricWithoutRowValues() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        AuditEvent bad = new AuditEvent("req-secret-ish", "NOT-HEX-" + "z".repeat(56), "id", Step.OUTCOME, Outcome.COMPLETED,
                null, null, null, "GDPR", Instant.now(), Instant.now(), "desk", new KafkaCoordinates("t", 0, 1), Instant.now());
        try (LogCapture logs = LogCapture.capture()) {
            AuditWriter w = new AuditWriter(writer, "w1", meters);
            CompletableFuture<Void> pending = w.append(List.of(bad));
            await().atMost(Duration.ofSeconds(20)).until(() -> meters.find("erasure.audit.write.failures")
                    .tag("sqlstate", "23514").tag("constraint", "subject_hash_is_hex").counter() != null
                    && meters.find("erasure.audit.write.failures").tag("sqlstate", "23514").counter().count() >= 2);
            assertThat(w.isHealthy()).isFalse();
            assertThat(w.lastFailure()).contains("23514").contains("subject_hash_is_hex");
            assertThat(pending).isNotDone();
            w.close(Duration.ofSeconds(1));
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("audit write failed")
                    .contains("SQLState 23514").contains("constraint subject_hash_is_hex"));
            assertThat(logs.lines()).noneSatisfy(l -> assertThat(l).containsAnyOf("NOT-HEX", "req-secret-ish"));
        }
    }

    private static void tryExec(Statement st, String sql) {
        try {
            st.execute(sql);
        } catch (SQLException e) {
            assertThat(e.getSQLState()).as("refused only for lack of privilege").isEqualTo("42501");
        }
    }
}
