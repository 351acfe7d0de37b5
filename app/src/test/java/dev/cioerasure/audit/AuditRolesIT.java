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

    /**
     * A worker that logs in as a superuser, as the table's owner, or with UPDATE/DELETE/TRUNCATE
     * granted works as well, so nothing told the operator that its password can undo the
     * append-only guarantee; the worker now warns at start-up (the writer role alone: no warning).
     */
    @Test
    void aLoginWithMoreThanTheWritersRightsIsNamedAndTheWriterIsNot() throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        exec(TestInfra.dataSource(owner), "CREATE ROLE extra_" + suffix + " LOGIN PASSWORD 'x' IN ROLE cio_erasure_writer");
        exec(TestInfra.dataSource(owner), "GRANT DELETE ON audit_event TO extra_" + suffix);
        exec(TestInfra.dataSource(owner), "CREATE ROLE tableowner_" + suffix + " LOGIN PASSWORD 'o'");
        exec(TestInfra.dataSource(owner), "ALTER TABLE audit_event OWNER TO tableowner_" + suffix);
        DataSource extra = TestInfra.dataSource(new Settings.Database(owner.url(), "extra_" + suffix, Secret.of("P", "x"), 2));
        DataSource tableOwner = TestInfra.dataSource(new Settings.Database(owner.url(), "tableowner_" + suffix, Secret.of("P", "o"), 2));

        assertThat(dev.cioerasure.preflight.SchemaAccess.beyondTheWriter(writer, "writer_x")).as("a login in cio_erasure_writer only")
                .isEmpty();
        assertThat(dev.cioerasure.preflight.SchemaAccess.beyondTheWriter(TestInfra.dataSource(owner), owner.user()))
                .contains("DATABASE_USER: user '" + owner.user() + "' is a superuser: whoever holds its password can disable the"
                        + " append-only triggers or has rights the worker never needs; run the worker as a login that is only in"
                        + " cio_erasure_writer (docs/operations.md, \"Database\")");
        assertThat(dev.cioerasure.preflight.SchemaAccess.beyondTheWriter(tableOwner, "tableowner_" + suffix)).hasValueSatisfying(
                m -> assertThat(m).startsWith("DATABASE_USER: user 'tableowner_" + suffix + "' owns the audit table (or is in the role that does): "));
        assertThat(dev.cioerasure.preflight.SchemaAccess.beyondTheWriter(extra, "extra_" + suffix)).hasValueSatisfying(
                m -> assertThat(m).startsWith("DATABASE_USER: user 'extra_" + suffix + "' may UPDATE, DELETE or TRUNCATE the audit table: "));
        // a user= in the URL wins over DATABASE_USER: the message names the login PostgreSQL sees
        try (var pool = Databases.pool(new Settings.Database(owner.url() + "?user=" + owner.user(), "writer_x",
                Secret.of("P", owner.password().reveal()), 2), "t", null)) {
            assertThat(dev.cioerasure.preflight.SchemaAccess.beyondTheWriter(pool, "writer_x")).hasValueSatisfying(m -> assertThat(m)
                    .startsWith("DATABASE_USER: the login '" + owner.user()
                            + "' (not DATABASE_USER 'writer_x': a user= parameter of DATABASE_URL wins over it) is a superuser: "));
        }
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

    /** Every query docs/auditing.md gives an auditor runs as the auditor role (its views and columns as the guide names them). */
    @Test
    void theAuditingGuidesQueriesRunAsTheAuditor() throws Exception {
        try (AuditWriter w = new AuditWriter(writer, "w1", new SimpleMeterRegistry())) {
            w.append(List.of(row("r-guide", 1))).get(10, TimeUnit.SECONDS);
        }
        java.util.regex.Matcher blocks = java.util.regex.Pattern.compile("```sql\n(.*?)```", java.util.regex.Pattern.DOTALL)
                .matcher(java.nio.file.Files.readString(java.nio.file.Path.of("docs", "auditing.md")));
        List<String> queries = new java.util.ArrayList<>();
        while (blocks.find()) {
            for (String statement : blocks.group(1).replaceAll("(?m)--.*$", "").split(";")) {
                if (statement.strip().startsWith("SELECT")) {
                    queries.add(statement.strip());
                }
            }
        }
        assertThat(queries).as("the guide's queries").hasSizeGreaterThanOrEqualTo(7);
        int rows = 0;
        for (String query : queries) {
            try (Connection c = auditor.getConnection(); Statement st = c.createStatement(); var rs = st.executeQuery(query)) {
                while (rs.next()) {
                    rows++;
                }
            } catch (SQLException e) {
                throw new AssertionError("docs/auditing.md: " + query, e);
            }
        }
        assertThat(rows).as("the on-time rate and the median find the erased request").isGreaterThanOrEqualTo(2);
    }

    /**
     * Roles belong to the server, not to a database, and PostgreSQL lets PUBLIC connect to every
     * database: a login in cio_erasure_writer made for one audit database (staging, say) appends
     * to every other one on the server. docs/operations.md says to revoke CONNECT from PUBLIC;
     * then that login is refused at the door, and a command run with it says so (exit 78).
     */
    @Test
    void aWriterForOneDatabaseWritesToAnotherOnTheSameServerUntilConnectIsRevoked() throws Exception {
        Settings.Database other = TestInfra.freshDatabase();
        String otherName = other.url().substring(other.url().lastIndexOf('/') + 1);
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        exec(TestInfra.dataSource(owner), "CREATE ROLE staging_" + suffix + " LOGIN PASSWORD 's' IN ROLE cio_erasure_writer");
        DataSource stagingLoginOnOther = TestInfra.dataSource(new Settings.Database(other.url(), "staging_" + suffix, Secret.of("P", "s"), 2));
        try (AuditWriter w = new AuditWriter(stagingLoginOnOther, "staging", new SimpleMeterRegistry())) {
            w.append(List.of(row("from-staging", 1))).get(10, TimeUnit.SECONDS);
        }
        assertThat(new ChainVerifier(TestInfra.dataSource(other)).verify().rowsChecked()).as("a well-chained row from the wrong login")
                .isEqualTo(1);

        String otherWriter = "prod_" + suffix;
        exec(TestInfra.dataSource(other), "CREATE ROLE " + otherWriter + " LOGIN PASSWORD 'p' IN ROLE cio_erasure_writer");
        exec(TestInfra.dataSource(other), "REVOKE CONNECT ON DATABASE " + otherName + " FROM PUBLIC");
        exec(TestInfra.dataSource(other), "GRANT CONNECT ON DATABASE " + otherName + " TO " + otherWriter);
        assertThatThrownBy(() -> stagingLoginOnOther.getConnection().close()).isInstanceOfSatisfying(SQLException.class,
                e -> assertThat(e.getSQLState()).isEqualTo("42501"));
        DataSource prodWriter = TestInfra.dataSource(new Settings.Database(other.url(), otherWriter, Secret.of("P", "p"), 2));
        try (AuditWriter w = new AuditWriter(prodWriter, "prod", new SimpleMeterRegistry())) {
            w.append(List.of(row("from-prod", 2))).get(10, TimeUnit.SECONDS);
        }
        dev.cioerasure.testing.Cli.Run refused = dev.cioerasure.testing.Cli.run(java.util.Map.of("DATABASE_URL", other.url(),
                "DATABASE_USER", "staging_" + suffix, "DATABASE_PASSWORD", "s"), "audit", "status", "from-prod");
        assertThat(refused.exit()).as(refused.err()).isEqualTo(78);
        assertThat(refused.err()).contains("DATABASE_USER", "staging_" + suffix, "CONNECT");
    }
}
