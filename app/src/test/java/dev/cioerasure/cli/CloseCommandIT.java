package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.audit.OpenRequests;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.TestInfra;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * A REJECTED or FAILED request that nobody will erase (a test message, an identifier no person
 * has, a request refused or withdrawn) stayed open for good: listed by erasure_open_requests,
 * counted overdue once its deadline passed, and ErasureRequestOverdue fired until someone silenced
 * it, or resubmitted it "corrected" and so recorded an erasure that concerned nobody. The command
 * {@code close} records the decision as one CLOSED row, through a function that a login in
 * cio_erasure_closer may call and nothing else.
 */
class CloseCommandIT {
    private static final String HASH = "cd".repeat(32);
    private long offset;

    @Test
    void aRejectedOrFailedRequestIsClosedAsARecordedDecisionAndLeavesTheOverdueCount() throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        DataSource ds = TestInfra.dataSource(owner);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        try (Connection c = ds.getConnection()) {
            append(c, "rej-1", "REJECTED", now.minus(40, ChronoUnit.DAYS), now.minus(10, ChronoUnit.DAYS));
            append(c, "fail-1", "FAILED", now.minus(2, ChronoUnit.DAYS), now.plus(20, ChronoUnit.DAYS));
            append(c, "done-1", "COMPLETED", now.minus(2, ChronoUnit.DAYS), now.plus(20, ChronoUnit.DAYS));
            append(c, "parked-1", "RETRY_SCHEDULED", now.minus(1, ChronoUnit.DAYS), now.plus(20, ChronoUnit.DAYS));
        }
        OpenRequests gauges = new OpenRequests(ds);
        assertThat(gauges.refresh(now)).isEqualTo(new OpenRequests.Summary(3, 1, java.util.Optional.of(now.minus(40, ChronoUnit.DAYS))));

        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String closer = "closer_" + suffix;
        String auditor = "auditor_" + suffix;
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + closer + " LOGIN PASSWORD 'c' IN ROLE cio_erasure_closer");
            st.execute("CREATE ROLE " + auditor + " LOGIN PASSWORD 'a' IN ROLE cio_erasure_auditor");
        }
        Map<String, String> env = new HashMap<>();
        env.put("DATABASE_URL", owner.url());
        env.put("DATABASE_USER", closer);
        env.put("DATABASE_PASSWORD", "c");

        Cli.Run closed = Cli.run(env, "close", "rej-1", "--by", "privacy-desk/ticket-9", "--why", "a test message, no person behind it");
        assertThat(closed.exit()).as(closed.err()).isZero();
        assertThat(closed.out()).matches("closed request rej-1 without erasure: audit row \\d+ \\(OUTCOME CLOSED, by"
                + " privacy-desk/ticket-9\\); it is no longer open or overdue\\R"
                + "not announced on the outcome topic: KAFKA_BOOTSTRAP_SERVERS is not set\\R");
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT subject_hash, regulation, requested_at, deadline_at, worker_instance, reason,"
                    + " kafka_topic FROM audit_event WHERE request_id = 'rej-1' AND outcome = 'CLOSED'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("the request's own columns").isEqualTo(HASH);
                assertThat(rs.getString(2)).isEqualTo("GDPR");
                assertThat(rs.getObject(4, OffsetDateTime.class).toInstant()).isEqualTo(now.minus(10, ChronoUnit.DAYS));
                assertThat(rs.getString(5)).as("the login that ran it").isEqualTo("close by " + closer);
                assertThat(rs.getString(6)).isEqualTo("closed without erasure by privacy-desk/ticket-9: a test message, no person behind it");
                assertThat(rs.getString(7)).as("no Kafka record").isNull();
                assertThat(rs.next()).isFalse();
            }
            try (ResultSet rs = st.executeQuery("SELECT status, erased, on_time FROM erasure_request_status WHERE request_id = 'rej-1'")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("CLOSED");
                assertThat(rs.getBoolean(2)).isFalse();
                assertThat(rs.getObject(3)).isNull();
            }
            try (ResultSet rs = st.executeQuery("SELECT string_agg(request_id, ',' ORDER BY request_id) FROM erasure_open_requests")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("fail-1,parked-1");
            }
        }
        assertThat(gauges.refresh(now)).as("the overdue gauge, from the rows appended since")
                .isEqualTo(new OpenRequests.Summary(2, 0, java.util.Optional.of(now.minus(2, ChronoUnit.DAYS))));
        assertThat(new OpenRequests(ds).refresh(now)).as("the same read from the view whole").isEqualTo(gauges.refresh(now));

        Map<String, String> asAuditor = new HashMap<>(env);
        asAuditor.put("DATABASE_USER", auditor);
        asAuditor.put("DATABASE_PASSWORD", "a");
        Cli.Run status = Cli.run(asAuditor, "audit", "status", "rej-1");
        assertThat(status.out()).contains("status      NOT ERASED — latest outcome CLOSED (closed without erasure by privacy-desk/ticket-9:"
                + " a test message, no person behind it)");
        assertThat(Cli.run(asAuditor, "audit", "verify").out()).as("the chain covers the row").startsWith("INTACT: 5 rows verified");

        assertRefused(Cli.run(env, "close", "done-1", "--by", "desk", "--why", "x"), 1, "request done-1 was erased (COMPLETED): nothing to close");
        assertRefused(Cli.run(env, "close", "parked-1", "--by", "desk", "--why", "x"), 1, "request parked-1 is RETRY_SCHEDULED, still being"
                + " worked on: close it once it is FAILED (parked shows it); only a REJECTED or FAILED request can be closed");
        assertRefused(Cli.run(env, "close", "rej-1", "--by", "desk", "--why", "x"), 1, "request rej-1 is CLOSED already;");
        assertRefused(Cli.run(env, "close", "nobody-1", "--by", "desk", "--why", "x"), 1, "no outcome recorded for request nobody-1");
        assertRefused(Cli.run(env, "close", "fail-1", "--by", "jane@example.com", "--why", "x"), 2, "--by: must be 1-200 characters,"
                + " not only spaces, without control or invisible characters or @");
        assertRefused(Cli.run(env, "close", "fail-1", "--by", "desk", "--why", "line\nbreak"), 2, "--why: must be 1-500 characters");
        assertRefused(Cli.run(asAuditor, "close", "fail-1", "--by", "desk", "--why", "x"), 78, "DATABASE_USER: PostgreSQL does not let user '"
                + auditor + "' use the audit tables (SQLState 42501: permission denied for function close_request): close needs a login in"
                + " cio_erasure_closer (docs/operations.md, \"Database\")");

        Settings.Database asCloser = new Settings.Database(owner.url(), closer, dev.cioerasure.config.Secret.of("DATABASE_PASSWORD", "c"), 1);
        try (Connection c = TestInfra.dataSource(asCloser).getConnection(); Statement st = c.createStatement()) {
            assertThatThrownBy(() -> st.execute("INSERT INTO audit_event (request_id, step, outcome, worker_instance, occurred_at)"
                    + " VALUES ('fail-1', 'OUTCOME', 'CLOSED', 'w', now())")).as("the function is its only way in")
                    .isInstanceOf(SQLException.class).hasMessageContaining("permission denied for table audit_event");
            assertThatThrownBy(() -> st.execute("SELECT close_request('fail-1', 'jane@example.com', 'x')"))
                    .as("the function applies the rules itself, for a caller other than the command").isInstanceOf(SQLException.class)
                    .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("CE004"));
            for (String blank : new String[] {" ", "\t ", "\u00a0", "\u3000\u2003"}) {
                // nobody named, no reason given (V18): V14's function took them
                String shown = blank.codePoints().boxed().toList().toString();
                assertThatThrownBy(() -> st.execute("SELECT close_request('fail-1', '" + blank + "', 'x')")).as("by %s", shown)
                        .isInstanceOf(SQLException.class).satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("CE004"));
                assertThatThrownBy(() -> st.execute("SELECT close_request('fail-1', 'desk', '" + blank + "')")).as("why %s", shown)
                        .isInstanceOf(SQLException.class).satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("CE004"));
            }
        }
        assertRefused(Cli.run(env, "close", "fail-1", "--by", "\u00a0 ", "--why", "x"), 2, "--by: must be 1-200 characters, not only spaces");
        assertRefused(Cli.run(env, "close", "fail-1", "--by", "desk", "--why", "   "), 2, "--why: must be 1-500 characters, not only spaces");

        Map<String, String> asOwner = new HashMap<>(env);
        asOwner.put("DATABASE_USER", owner.user());
        asOwner.put("DATABASE_PASSWORD", owner.password().reveal());
        assertRefused(Cli.run(asOwner, "close", "fail-1", "--by", "\ud83d\udd12".repeat(201), "--why", "refused"), 2,
                "--by: must be 1-200 characters");
        // counted in characters, as the function's length() counts them: 155, though 305 UTF-16 units (refused before)
        assertThat(Cli.run(asOwner, "close", "fail-1", "--by", "desk-" + "\ud83d\udd12".repeat(150), "--why", "refused").exit())
                .as("the database's owner may too").isZero();
        assertThat(gauges.refresh(now)).isEqualTo(new OpenRequests.Summary(1, 0, java.util.Optional.of(now.minus(1, ChronoUnit.DAYS))));

        // submitted again and erased, the request's erasure stands over the decision
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            append(c, "rej-1", "COMPLETED", now.minus(40, ChronoUnit.DAYS), now.minus(10, ChronoUnit.DAYS));
            try (ResultSet rs = st.executeQuery("SELECT status, erased FROM erasure_request_status WHERE request_id = 'rej-1'")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("COMPLETED");
                assertThat(rs.getBoolean(2)).isTrue();
            }
        }
    }

    /**
     * The worker erases the request while it is being closed: the close waits for the worker's
     * append (both take the chain head's lock) and then finds it erased. Without its own lock first,
     * it read the request as FAILED and appended CLOSED behind the erasure.
     */
    @Test
    void aRequestErasedWhileItIsClosedIsNotClosed() throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        DataSource ds = TestInfra.dataSource(owner);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        try (Connection c = ds.getConnection()) {
            append(c, "race-1", "FAILED", now.minus(2, ChronoUnit.DAYS), now.plus(20, ChronoUnit.DAYS));
        }
        Map<String, String> env = Map.of("DATABASE_URL", owner.url(), "DATABASE_USER", owner.user(), "DATABASE_PASSWORD",
                owner.password().reveal());
        try (Connection worker = ds.getConnection()) {
            worker.setAutoCommit(false);
            append(worker, "race-1", "COMPLETED", now.minus(2, ChronoUnit.DAYS), now.plus(20, ChronoUnit.DAYS));
            java.util.concurrent.CompletableFuture<Cli.Run> closing = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> Cli.run(env, "close", "race-1", "--by", "desk", "--why", "withdrawn"));
            Thread.sleep(1_500);
            assertThat(closing).as("waits for the worker's append").isNotDone();
            worker.commit();
            assertRefused(closing.get(30, java.util.concurrent.TimeUnit.SECONDS), 1, "request race-1 was erased (COMPLETED): nothing to close");
        }
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM audit_event WHERE outcome = 'CLOSED'")) {
            rs.next();
            assertThat(rs.getLong(1)).isZero();
        }
    }

    /**
     * Another identifier's record rejected under the id of a failed request (REQUEST_ID_REUSED) is
     * not that request's outcome: closing the request writes the request's own subject hash and
     * times, and a later reuse does not open the closed request again. Before V15 the close copied
     * the other person's subject hash, and the reuse's REJECTED row stood as the request's status.
     */
    @Test
    void aRequestWhoseIdWasReusedIsClosedAsItself() throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        DataSource ds = TestInfra.dataSource(owner);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        String other = "ef".repeat(32);
        try (Connection c = ds.getConnection()) {
            append(c, "fail-r", "FAILED", now.minus(40, ChronoUnit.DAYS), now.minus(10, ChronoUnit.DAYS));
            appendReuse(c, "fail-r", other, now.minus(1, ChronoUnit.DAYS));
        }
        Map<String, String> env = Map.of("DATABASE_URL", owner.url(), "DATABASE_USER", owner.user(), "DATABASE_PASSWORD",
                owner.password().reveal());
        Cli.Run closed = Cli.run(env, "close", "fail-r", "--by", "desk", "--why", "withdrawn");
        assertThat(closed.exit()).as(closed.err()).isZero();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT subject_hash, deadline_at FROM audit_event WHERE request_id = 'fail-r'"
                    + " AND outcome = 'CLOSED'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("the failed request's person, not the reuse's").isEqualTo(HASH);
                assertThat(rs.getObject(2, OffsetDateTime.class).toInstant()).isEqualTo(now.minus(10, ChronoUnit.DAYS));
            }
            appendReuse(c, "fail-r", other, now);
            try (ResultSet rs = st.executeQuery("SELECT status, subject_hash FROM erasure_request_status WHERE request_id = 'fail-r'")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).as("a reuse after the close does not open it again").isEqualTo("CLOSED");
                assertThat(rs.getString(2)).isEqualTo(HASH);
            }
            try (ResultSet rs = st.executeQuery("SELECT count(*) FROM erasure_open_requests")) {
                rs.next();
                assertThat(rs.getLong(1)).isZero();
            }
        }
        assertThat(new OpenRequests(ds).refresh(now).open()).isZero();
    }

    /**
     * A ticketing platform follows the outcome topic: a closed request never reached it, and its
     * ticket stayed at FAILED for good. With Kafka settings, close announces the CLOSED row there
     * (no subject hash, nothing the closer role could not read: closed_request_event, V16); run
     * again, it announces it again; a topic it cannot write to is said before anything is closed.
     */
    @Test
    void withKafkaSettingsAClosedRequestIsAnnouncedOnTheOutcomeTopic() throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        DataSource ds = TestInfra.dataSource(owner);
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        try (Connection c = ds.getConnection()) {
            append(c, "ann-1", "FAILED", now.minus(40, ChronoUnit.DAYS), now.minus(10, ChronoUnit.DAYS));
            append(c, "ann-2", "FAILED", now.minus(40, ChronoUnit.DAYS), now.minus(10, ChronoUnit.DAYS));
        }
        String topic = "erasure.requests.close-" + UUID.randomUUID().toString().substring(0, 8);
        TestInfra.kafka().createTopics(1, topic + ".outcomes");
        String closer = "closer_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + closer + " LOGIN PASSWORD 'c' IN ROLE cio_erasure_closer");
        }
        // a login in cio_erasure_closer: the function of V16 is the only thing it reads
        Map<String, String> env = new HashMap<>(Map.of("DATABASE_URL", owner.url(), "DATABASE_USER", closer, "DATABASE_PASSWORD", "c",
                "KAFKA_BOOTSTRAP_SERVERS", TestInfra.kafka().bootstrapServers(), "ERASURE_TOPIC", topic,
                "ERASURE_OUTCOMES_TOPIC", topic + ".outcomes"));

        Cli.Run closed = Cli.run(env, "close", "ann-1", "--by", "desk/9", "--why", "withdrawn");
        assertThat(closed.exit()).as(closed.err()).isZero();
        assertThat(closed.out()).contains("closed request ann-1 without erasure", "announced on " + topic + ".outcomes (event outcome CLOSED)");
        java.util.List<String> events = read(topic + ".outcomes", 1);
        assertThat(events).singleElement().satisfies(e -> assertThat(e).startsWith("ann-1 {\"schema\":\"cio-erasure-outcome/1\","
                + "\"request_id\":\"ann-1\",\"event\":\"outcome\",\"outcome\":\"CLOSED\",\"regulation\":\"GDPR\"")
                .contains("\"reason\":\"closed without erasure by desk/9: withdrawn\"", "\"deadline_at\":\"" + now.minus(10, ChronoUnit.DAYS))
                .doesNotContain(HASH, "on_time", "erasure.requests\""));

        Cli.Run again = Cli.run(env, "close", "ann-1", "--by", "desk/9", "--why", "withdrawn");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out().strip()).isEqualTo("request ann-1 was closed already; announced again on " + topic + ".outcomes (event"
                + " outcome CLOSED)");
        assertThat(read(topic + ".outcomes", 2)).hasSize(2);

        Map<String, String> noBroker = new HashMap<>(env);
        noBroker.put("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1");
        Cli.Run unreachable = Cli.run(noBroker, "close", "ann-2", "--by", "desk/9", "--why", "withdrawn");
        assertThat(unreachable.exit()).as(unreachable.err()).isEqualTo(69);
        assertThat(unreachable.out()).isEmpty();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM audit_event WHERE request_id = 'ann-2' AND outcome = 'CLOSED'")) {
            rs.next();
            assertThat(rs.getLong(1)).as("nothing closed while the event could not be announced").isZero();
        }
    }

    /** {@code key value} of the first {@code atLeast} records of a topic, read from its start. */
    private static java.util.List<String> read(String topic, int atLeast) {
        Map<String, Object> props = new HashMap<>(TestInfra.kafka().clientProperties());
        props.put("bootstrap.servers", TestInfra.kafka().bootstrapServers());
        props.put("group.id", "close-it-" + UUID.randomUUID());
        props.put("auto.offset.reset", "earliest");
        java.util.List<String> out = new java.util.ArrayList<>();
        try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<>(
                props, new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            consumer.subscribe(java.util.List.of(topic));
            long until = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
            while (out.size() < atLeast && System.nanoTime() < until) {
                consumer.poll(java.time.Duration.ofMillis(500)).forEach(r -> out.add(new String(r.key(), java.nio.charset.StandardCharsets.UTF_8)
                        + " " + new String(r.value(), java.nio.charset.StandardCharsets.UTF_8)));
            }
        }
        return out;
    }

    @Test
    void aDatabaseWithoutMigrationV14IsNamedAsSuch() throws Exception {
        String name = "close_v13_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = TestInfra.postgres().superuserDataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        Settings.Database db = new Settings.Database("jdbc:postgresql://localhost:" + TestInfra.postgres().port() + "/" + name,
                "postgres", dev.cioerasure.config.Secret.of("DATABASE_PASSWORD", "postgres"), 1);
        org.flywaydb.core.Flyway.configure().dataSource(TestInfra.dataSource(db)).locations("classpath:db/migration").target("13")
                .load().migrate();
        Map<String, String> env = Map.of("DATABASE_URL", db.url(), "DATABASE_USER", "postgres", "DATABASE_PASSWORD", "postgres");
        assertRefused(Cli.run(env, "close", "r-1", "--by", "desk", "--why", "x"), 78, "DATABASE_URL: database '" + name + "' at localhost:"
                + TestInfra.postgres().port() + " does not hold the audit tables of this release (SQLState 42883: function"
                + " public.close_request(character varying, character varying, character varying) does not exist): is it the right"
                + " database? If so, run 'migrate' as its owner first");
    }

    @Test
    void aDatabaseThatTakesNoWritesIsNamedAsSuch() throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        try (Connection c = TestInfra.dataSource(owner).getConnection(); Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE " + owner.url().substring(owner.url().lastIndexOf('/') + 1) + " SET default_transaction_read_only = on");
        }
        Map<String, String> env = Map.of("DATABASE_URL", owner.url(), "DATABASE_USER", owner.user(), "DATABASE_PASSWORD",
                owner.password().reveal());
        assertRefused(Cli.run(env, "close", "r-1", "--by", "desk", "--why", "x"), 78, "takes no writes from this login"
                + " (default_transaction_read_only is on), and close appends a row: name the primary");
    }

    private static void assertRefused(Cli.Run r, int exit, String expected) {
        assertThat(r.exit()).as(r.err()).isEqualTo(exit);
        assertThat(r.err()).contains(expected).doesNotContain("\tat ", "Exception");
        assertThat(r.out()).isEmpty();
    }

    private void append(Connection c, String requestId, String outcome, Instant requestedAt, Instant deadlineAt) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome,"
                + " regulation, requested_at, deadline_at, requested_by, kafka_topic, kafka_partition, kafka_offset, worker_instance,"
                + " occurred_at) VALUES (?, ?, 'email', 'OUTCOME', ?, 'GDPR', ?, ?, 'desk/1', 'erasure.requests', 0, ?, 'w', now())")) {
            ps.setString(1, requestId);
            ps.setString(2, HASH);
            ps.setString(3, outcome);
            ps.setObject(4, OffsetDateTime.ofInstant(requestedAt, ZoneOffset.UTC));
            ps.setObject(5, OffsetDateTime.ofInstant(deadlineAt, ZoneOffset.UTC));
            ps.setLong(6, offset++);
            ps.executeUpdate();
        }
    }

    /** The row the worker writes for another identifier's record under a finished request's id. */
    private void appendReuse(Connection c, String requestId, String subjectHash, Instant requestedAt) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome,"
                + " reason, regulation, requested_at, deadline_at, requested_by, kafka_topic, kafka_partition, kafka_offset, worker_instance,"
                + " occurred_at) VALUES (?, ?, 'email', 'OUTCOME', 'REJECTED', 'REQUEST_ID_REUSED: the request id already has outcome"
                + " FAILED for another identifier; this one was not erased: submit it under a request id of its own', 'GDPR', ?, ?,"
                + " 'desk/1', 'erasure.requests', 0, ?, 'w', now())")) {
            ps.setString(1, requestId);
            ps.setString(2, subjectHash);
            ps.setObject(3, OffsetDateTime.ofInstant(requestedAt, ZoneOffset.UTC));
            ps.setObject(4, OffsetDateTime.ofInstant(requestedAt.plus(30, ChronoUnit.DAYS), ZoneOffset.UTC));
            ps.setLong(5, offset++);
            ps.executeUpdate();
        }
    }
}
