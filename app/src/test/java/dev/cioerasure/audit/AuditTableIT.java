package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The guarantees the database itself gives, on a real PostgreSQL. */
class AuditTableIT {
    private DataSource db;

    @BeforeEach
    void freshDatabase() {
        Settings.Database settings = TestInfra.freshDatabase();
        db = TestInfra.dataSource(settings);
    }

    private static AuditEvent outcome(String requestId, Outcome outcome, long offset) {
        Instant now = Instant.parse("2026-11-28T10:00:00.123456Z");
        return new AuditEvent(requestId, "a".repeat(64), "email", Step.OUTCOME, outcome, null, null,
                outcome == Outcome.COMPLETED ? null : "reason é ünïcode", "GDPR", now, now.plusSeconds(86_400 * 30),
                "desk/1", new KafkaCoordinates("t", 0, offset), now.plusMillis(offset));
    }

    private void write(AuditEvent... rows) throws Exception {
        try (AuditWriter w = new AuditWriter(db, "test-worker", new SimpleMeterRegistry())) {
            w.append(List.of(rows)).get(10, TimeUnit.SECONDS);
        }
    }

    private int count(String sql) throws SQLException {
        try (Connection c = db.getConnection(); Statement st = c.createStatement(); var rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private void exec(String sql) throws SQLException {
        try (Connection c = db.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    /** Tampering as a superuser would: with the append-only triggers switched off for this session. */
    private void tamper(String sql) throws SQLException {
        try (Connection c = db.getConnection(); Statement st = c.createStatement()) {
            st.execute("SET session_replication_role = replica");
            st.execute(sql);
        }
    }

    @Test
    void theTestsRunOnPostgreSql17LikeTheComposeStack() throws Exception {
        try (Connection c = db.getConnection(); Statement st = c.createStatement();
             java.sql.ResultSet rs = st.executeQuery("SHOW server_version_num")) {
            rs.next();
            assertThat(rs.getInt(1)).isBetween(170000, 179999);
        }
    }

    @Test
    void everyValueComesBackAsWrittenWhateverItsCharactersAndTheChainVerifies() throws Exception {
        // COPY's text format gives backslash, tab, newline, CR, \N and \. meanings of their own
        List<String> hostile = List.of("tab\there", "line\nbreak", "cr\rhere", "back\\slash", "\\N", "\\.", "\\",
                "end\\", "\\.\n\\.", "quote ' \" , ; |", "ünïcödé ✓ 😀", "", " ");
        Instant at = Instant.parse("2026-11-28T10:00:00.123456789Z");
        List<AuditEvent> rows = new ArrayList<>();
        for (int i = 0; i < hostile.size(); i++) {
            String v = hostile.get(i);
            rows.add(new AuditEvent("req-" + i, "a".repeat(64), "email", Step.OUTCOME, Outcome.FAILED, i % 2 == 0 ? 503 : null,
                    i % 3 == 0 ? null : i, v, "GDPR", at.plusSeconds(i), i % 4 == 0 ? null : at.plusSeconds(86_400), v,
                    i % 5 == 0 ? null : new KafkaCoordinates(v.isEmpty() ? "t" : v, i, 1_000_000_000_000L + i), at.plusMillis(i),
                    i % 2 == 0 ? null : "ws-" + i));
        }
        write(rows.toArray(AuditEvent[]::new));

        try (Connection c = db.getConnection(); Statement st = c.createStatement();
             java.sql.ResultSet rs = st.executeQuery("SELECT request_id, http_status, attempts, reason, requested_at, deadline_at,"
                     + " requested_by, kafka_topic, kafka_partition, kafka_offset, worker_instance, occurred_at, workspace"
                     + " FROM audit_event ORDER BY chain_seq")) {
            for (AuditEvent e : rows) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo(e.requestId());
                assertThat((Integer) rs.getObject(2)).isEqualTo(e.httpStatus());
                assertThat((Integer) rs.getObject(3)).isEqualTo(e.attempts());
                assertThat(rs.getString(4)).as(e.requestId()).isEqualTo(e.reason());
                assertThat(rs.getObject(5, java.time.OffsetDateTime.class).toInstant())
                        .isEqualTo(e.requestedAt().truncatedTo(java.time.temporal.ChronoUnit.MICROS));
                assertThat(java.util.Optional.ofNullable(rs.getObject(6, java.time.OffsetDateTime.class)).map(t -> t.toInstant()))
                        .isEqualTo(java.util.Optional.ofNullable(e.deadlineAt()).map(t -> t.truncatedTo(java.time.temporal.ChronoUnit.MICROS)));
                assertThat(rs.getString(7)).isEqualTo(e.requestedBy());
                assertThat(rs.getString(8)).isEqualTo(e.source() == null ? null : e.source().topic());
                assertThat((Integer) rs.getObject(9)).isEqualTo(e.source() == null ? null : e.source().partition());
                assertThat((Long) rs.getObject(10)).isEqualTo(e.source() == null ? null : e.source().offset());
                assertThat(rs.getString(11)).isEqualTo("test-worker");
                assertThat(rs.getObject(12, java.time.OffsetDateTime.class).toInstant())
                        .isEqualTo(e.occurredAt().truncatedTo(java.time.temporal.ChronoUnit.MICROS));
                assertThat(rs.getString(13)).isEqualTo(e.workspace());
            }
            assertThat(rs.next()).isFalse();
        }
        assertThat(new ChainVerifier(db).verify().intact()).isTrue();
    }

    @Test
    void updateDeleteAndTruncateAreRefusedEvenForTheOwner() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1));
        assertThatThrownBy(() -> exec("UPDATE audit_event SET outcome = 'FAILED'")).hasMessageContaining("append-only");
        assertThatThrownBy(() -> exec("DELETE FROM audit_event")).hasMessageContaining("append-only");
        assertThatThrownBy(() -> exec("TRUNCATE audit_event")).hasMessageContaining("append-only");
        assertThat(count("SELECT count(*) FROM audit_event")).isEqualTo(1);
    }

    @Test
    void aSecondFinalOutcomeForARequestIsRecordedAsDuplicate() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1));
        write(outcome("r1", Outcome.COMPLETED, 2));
        assertThat(count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED'")).isEqualTo(1);
        assertThat(count("SELECT count(*) FROM audit_event WHERE outcome = 'DUPLICATE' AND kafka_offset = 2")).isEqualTo(1);
    }

    @Test
    void theSameKafkaRecordGetsOneOutcomeRowOnly() throws Exception {
        write(outcome(null, Outcome.REJECTED, 7));
        write(outcome(null, Outcome.REJECTED, 7));
        assertThat(count("SELECT count(*) FROM audit_event")).isEqualTo(1);
        assertThat(new ChainVerifier(db).verify().intact()).isTrue();
    }

    @Test
    void aLongCheckTellsHowFarItHasComeOfHowManyRows() throws Exception {
        AuditEvent[] rows = new AuditEvent[25_000];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = outcome("p-" + i, Outcome.COMPLETED, i);
        }
        write(rows);
        List<String> told = new ArrayList<>();
        ChainVerifier.Result r = new ChainVerifier(db).verify(false, (checked, total) -> told.add(checked + "/" + total));
        assertThat(r.intact()).isTrue();
        assertThat(told).containsExactly("0/25000", "10000/25000", "20000/25000", "25000/25000");
    }

    @Test
    void concurrentWritersKeepOneIntactChain() throws Exception {
        List<AuditWriter> writers = new ArrayList<>();
        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            AuditWriter writer = new AuditWriter(db, "worker-" + w, new SimpleMeterRegistry());
            writers.add(writer);
            for (int i = 0; i < 250; i++) {
                done.add(writer.append(List.of(outcome("w" + w + "-" + i, Outcome.COMPLETED, w * 1000L + i))));
            }
        }
        CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        writers.forEach(AuditWriter::close);
        ChainVerifier.Result r = new ChainVerifier(db).verify();
        assertThat(r.firstBreak()).isEmpty();
        assertThat(r.rowsChecked()).isEqualTo(1000);
    }

    /**
     * A DBA's default_transaction_isolation (repeatable read or serializable, for the database
     * or the role): every append locks the chain head, which a concurrent append has just
     * updated, so such a transaction fails with 40001 (could not serialize access) and is tried
     * again, over and over while several workers write. The pool's sessions append in read committed.
     */
    @Test
    void concurrentWritersAreNotSerializationFailuresUnderADatabasesStricterDefaultIsolation() throws Exception {
        Settings.Database settings = TestInfra.freshDatabase();
        String name = settings.url().substring(settings.url().lastIndexOf('/') + 1).replaceAll("\\?.*", "");
        try (Connection admin = TestInfra.dataSource(settings).getConnection(); Statement st = admin.createStatement()) {
            st.execute("ALTER DATABASE " + name + " SET default_transaction_isolation = 'serializable'");
        }
        io.micrometer.core.instrument.simple.SimpleMeterRegistry meters = new SimpleMeterRegistry();
        try (var pool = Databases.pool(TestInfra.asWriter(settings), "isolation-it", null)) {
            List<AuditWriter> writers = new ArrayList<>();
            List<CompletableFuture<Void>> done = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                AuditWriter writer = new AuditWriter(pool, "worker-" + w, meters);
                writers.add(writer);
                for (int i = 0; i < 100; i++) {
                    done.add(writer.append(List.of(outcome("w" + w + "-" + i, Outcome.COMPLETED, w * 1000L + i))));
                }
            }
            CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
            writers.forEach(AuditWriter::close);
            assertThat(meters.find(dev.cioerasure.metrics.MetricNames.AUDIT_WRITE_FAILURES).tag("sqlstate", "40001").counters())
                    .as("serialization failures").allSatisfy(c -> assertThat(c.count()).isZero());
            assertThat(new ChainVerifier(TestInfra.dataSource(settings)).verify().rowsChecked()).isEqualTo(400);
        }
    }

    @Test
    void anEditedRowIsDetected() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1), outcome("r2", Outcome.FAILED, 2), outcome("r3", Outcome.COMPLETED, 3));
        assertThat(new ChainVerifier(db).verify().intact()).isTrue();
        tamper("UPDATE audit_event SET outcome = 'COMPLETED', reason = NULL WHERE request_id = 'r2'");
        ChainVerifier.Result r = new ChainVerifier(db).verify();
        assertThat(r.firstBreak()).hasValueSatisfying(b -> {
            assertThat(b.chainSeq()).isEqualTo(2);
            assertThat(b.problem()).contains("edited");
        });
    }

    @Test
    void aDeletedRowIsDetected() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1), outcome("r2", Outcome.FAILED, 2), outcome("r3", Outcome.COMPLETED, 3));
        tamper("DELETE FROM audit_event WHERE request_id = 'r2'");
        assertThat(new ChainVerifier(db).verify().firstBreak()).hasValueSatisfying(b -> assertThat(b.problem()).contains("missing"));
    }

    @Test
    void aDeletedLastRowIsDetected() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1), outcome("r2", Outcome.FAILED, 2));
        tamper("DELETE FROM audit_event WHERE request_id = 'r2'");
        assertThat(new ChainVerifier(db).verify().firstBreak()).hasValueSatisfying(b -> assertThat(b.problem()).contains("chain head"));
    }

    @Test
    void anInsertedRowIsDetected() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1), outcome("r2", Outcome.COMPLETED, 2));
        tamper("UPDATE audit_event SET chain_seq = chain_seq + 1 WHERE chain_seq = 2");
        tamper("INSERT INTO audit_event (chain_seq, recorded_at, request_id, step, outcome, worker_instance, occurred_at, prev_hash, row_hash)"
                + " SELECT 2, now(), 'forged', 'OUTCOME', 'COMPLETED', 'x', now(), row_hash, repeat('f', 64) FROM audit_event WHERE chain_seq = 1");
        assertThat(new ChainVerifier(db).verify().firstBreak()).hasValueSatisfying(b -> assertThat(b.chainSeq()).isEqualTo(2));
    }

    @Test
    void reorderedRowsAreDetected() throws Exception {
        write(outcome("r1", Outcome.COMPLETED, 1), outcome("r2", Outcome.COMPLETED, 2), outcome("r3", Outcome.COMPLETED, 3));
        tamper("UPDATE audit_event SET chain_seq = -chain_seq WHERE chain_seq IN (2, 3)");
        tamper("UPDATE audit_event SET chain_seq = 5 + chain_seq WHERE chain_seq IN (-2, -3)");
        ChainVerifier.Result r = new ChainVerifier(db).verify();
        assertThat(r.firstBreak()).hasValueSatisfying(b -> assertThat(b.chainSeq()).isEqualTo(2));
    }
}
