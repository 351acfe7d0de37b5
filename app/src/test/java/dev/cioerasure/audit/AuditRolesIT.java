package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The migration's roles: the worker can only append and read; an auditor can only read. */
class AuditRolesIT {
    private Settings.Database owner;
    private DataSource writer;
    private DataSource auditor;

    @BeforeEach
    void rolesAndDatabase() throws Exception {
        owner = TestInfra.freshDatabase();
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = TestInfra.dataSource(owner).getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE writer_" + suffix + " LOGIN PASSWORD 'w' IN ROLE cio_erasure_writer");
            st.execute("CREATE ROLE auditor_" + suffix + " LOGIN PASSWORD 'a' IN ROLE cio_erasure_auditor");
        }
        writer = TestInfra.dataSource(new Settings.Database(owner.url(), "writer_" + suffix, Secret.of("P", "w"), 2));
        auditor = TestInfra.dataSource(new Settings.Database(owner.url(), "auditor_" + suffix, Secret.of("P", "a"), 2));
    }

    private static AuditEvent row(String requestId, long offset) {
        Instant t = Instant.parse("2026-11-28T10:00:00Z");
        return new AuditEvent(requestId, "b".repeat(64), "id", Step.OUTCOME, Outcome.COMPLETED, null, null, null, "CCPA", t,
                t.plusSeconds(45 * 86400), "desk", new KafkaCoordinates("t", 0, offset), t);
    }

    private static void exec(DataSource ds, String sql) throws SQLException {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    @Test
    void theWriterAppendsThroughTheChainTriggerButCannotChangeAnything() throws Exception {
        try (AuditWriter w = new AuditWriter(writer, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("r1", 1), row("r2", 2))).get(10, TimeUnit.SECONDS);
        }
        try (OutcomeLookup lookup = new OutcomeLookup(writer)) {
            assertThat(lookup.finalOutcome("r1")).contains(Outcome.COMPLETED);
        }
        assertThatThrownBy(() -> exec(writer, "UPDATE audit_event SET outcome = 'FAILED'")).hasMessageContaining("permission denied");
        assertThatThrownBy(() -> exec(writer, "DELETE FROM audit_event")).hasMessageContaining("permission denied");
        assertThatThrownBy(() -> exec(writer, "TRUNCATE audit_event")).hasMessageContaining("permission denied");
        assertThatThrownBy(() -> exec(writer, "UPDATE audit_chain_head SET last_seq = 0")).hasMessageContaining("permission denied");
        assertThatThrownBy(() -> exec(writer, "SELECT * FROM audit_chain_head")).hasMessageContaining("permission denied");
        assertThatThrownBy(() -> exec(writer, "DROP TABLE audit_event")).hasMessageContaining("must be owner");
        assertThat(new ChainVerifier(auditor).verify().rowsChecked()).isEqualTo(2);
    }

    @Test
    void theAuditorOnlyReads() throws Exception {
        try (AuditWriter w = new AuditWriter(writer, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("r1", 1))).get(10, TimeUnit.SECONDS);
        }
        try (Connection c = auditor.getConnection(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT count(*) FROM erasure_request_status WHERE erased")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1);
        }
        assertThatThrownBy(() -> exec(auditor, "INSERT INTO audit_event (chain_seq, recorded_at, step, outcome, worker_instance,"
                + " occurred_at, prev_hash, row_hash) VALUES (0, now(), 'OUTCOME', 'COMPLETED', 'x', now(), '', '')"))
                .hasMessageContaining("permission denied");
        assertThatThrownBy(() -> exec(auditor, "UPDATE audit_event SET reason = 'x'")).hasMessageContaining("permission denied");
        assertThat(new ChainVerifier(auditor).verify().intact()).isTrue();
    }
}
