package dev.cioerasure.cli;

import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.audit.Databases;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.preflight.SchemaAccess;
import dev.cioerasure.preflight.ServiceProblem;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Closes a REJECTED or FAILED request without erasing anybody, as a recorded decision: one
 * OUTCOME row CLOSED appended by the database function {@code close_request} (migration V14), which
 * a login in {@code cio_erasure_closer} may call and nothing else. The request then leaves
 * {@code erasure_open_requests}, and with it the overdue count and its alert.
 */
@Command(name = "close", mixinStandardHelpOptions = true,
        description = {"Close a REJECTED or FAILED request without erasing anybody, as a decision recorded in the audit table"
                + " (a test message, an identifier no person has, a request refused or withdrawn): one OUTCOME row CLOSED, with who"
                + " decided and why. It then leaves erasure_open_requests and the overdue count. Submitted again, the request is"
                + " processed as any other.",
                "Needs DATABASE_URL, DATABASE_USER, DATABASE_PASSWORD of a login in cio_erasure_closer. With KAFKA_BOOTSTRAP_SERVERS"
                        + " (and the worker's KAFKA_* settings) it also announces the decision on ERASURE_OUTCOMES_TOPIC, as an outcome"
                        + " event CLOSED; run again, it announces it again."})
final class CloseCommand implements Callable<Integer> {
    static final int MAX_BY = 200;
    static final int MAX_WHY = 500;

    @Parameters(paramLabel = "REQUEST_ID", description = "The request id.")
    String requestId;

    @Option(names = "--by", required = true, paramLabel = "WHO",
            description = "Who decided: a team or ticket reference, 1-200 characters, not only spaces, no @ (not an email address).")
    String by;

    @Option(names = "--why", required = true, paramLabel = "REASON",
            description = "Why nobody is erased, 1-500 characters, not only spaces, no @: it is stored in the audit table, which holds no identifier.")
    String why;

    @Override
    public Integer call() {
        Errors.requestIdArgument("REQUEST_ID", requestId);
        text("--by", by, MAX_BY, "a team or ticket reference, not an email address");
        text("--why", why, MAX_WHY, "the audit table holds no identifier, so no email address");
        java.util.Map<String, String> env = Main.environment();
        boolean withKafka = env.get("KAFKA_BOOTSTRAP_SERVERS") != null && !env.get("KAFKA_BOOTSTRAP_SERVERS").isBlank();
        Settings s = SettingsLoader.load(env, withKafka ? EnumSet.of(SettingsLoader.Part.DATABASE, SettingsLoader.Part.KAFKA)
                : EnumSet.of(SettingsLoader.Part.DATABASE));
        Settings.Database db = s.database();
        Settings.Kafka kafka = withKafka && s.kafka().outcomesTopic() != null ? s.kafka() : null;
        Preflight.database(db);
        if (kafka != null) {
            // before the row: a topic the closer may not write to is said while nothing is done yet
            Preflight.kafkaWrite(kafka, java.time.Duration.ofSeconds(15), java.util.List.of(kafka.outcomesTopic()), "ERASURE_OUTCOMES_TOPIC");
        }
        try (HikariDataSource ds = Databases.pool(db, "close", null); Connection c = ds.getConnection()) {
            try (java.sql.Statement st = c.createStatement()) {
                SchemaAccess.readOnly(st, db, "close appends a row"); // a reader endpoint named by mistake: 25006 said only its code
            }
            if (kafka != null) {
                event(c); // before the row: a database without V16, or a login that may not read the event, is said first
            }
            boolean closedBefore = false;
            try (PreparedStatement ps = c.prepareStatement("SELECT public.close_request(?, ?, ?)")) {
                ps.setString(1, requestId);
                ps.setString(2, by);
                ps.setString(3, why);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    System.out.println("closed request " + requestId + " without erasure: audit row " + rs.getLong(1) + " (OUTCOME CLOSED,"
                            + " by " + by + "); it is no longer open or overdue");
                }
            } catch (SQLException e) {
                if (kafka == null || !"CE003".equals(e.getSQLState()) || !"CLOSED".equals(firstLine(e))) {
                    throw e;
                }
                closedBefore = true; // closed already: announced again (the first announcement may not have gone out)
            }
            if (kafka == null) {
                System.out.println(withKafka ? "not announced: ERASURE_OUTCOMES_TOPIC is none"
                        : "not announced on the outcome topic: KAFKA_BOOTSTRAP_SERVERS is not set");
                return 0;
            }
            return announce(c, kafka, closedBefore);
        } catch (SQLException e) {
            throw refused(e, db);
        }
    }

    /**
     * Announces the request's CLOSED row on the outcome topic (docs/outcome-events.md), keyed by
     * request id, once Kafka has it; the row's announceable columns come from
     * {@code closed_request_event} (migration V16), the closer role reading nothing else.
     */
    private int announce(Connection c, Settings.Kafka kafka, boolean again) throws SQLException {
        dev.cioerasure.audit.AuditEvent row = event(c).orElseThrow(() -> new Errors.UserError("request " + requestId
                + " is not closed (erased meanwhile?): nothing announced", AuditCommand.NOT_FOUND));
        try (org.apache.kafka.clients.producer.Producer<byte[], byte[]> producer =
                     new dev.cioerasure.kafka.KafkaClients(kafka).producer("cio-erasure-close", java.util.Map.of())) {
            producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(kafka.outcomesTopic(),
                    requestId.getBytes(java.nio.charset.StandardCharsets.UTF_8), dev.cioerasure.worker.OutcomeEvents.event(row)))
                    .get(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            Exception cause = e.getCause() instanceof Exception x ? x : e;
            throw new Errors.UserError("request " + requestId + " is closed in the audit table, but the event was not announced on "
                    + kafka.outcomesTopic() + " (" + Errors.kafkaRefusal(cause) + "): run the same close again to announce it",
                    Errors.UNAVAILABLE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Errors.UserError("interrupted before " + kafka.outcomesTopic() + " took the event: run the same close again to"
                    + " announce it", Errors.UNAVAILABLE);
        }
        System.out.println((again ? "request " + requestId + " was closed already; announced again" : "announced") + " on "
                + kafka.outcomesTopic() + " (event outcome CLOSED)");
        return 0;
    }

    /** The request's CLOSED row as announced, from {@code closed_request_event}; empty while it is not closed. */
    private java.util.Optional<dev.cioerasure.audit.AuditEvent> event(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT regulation, requested_at, deadline_at, occurred_at, reason"
                + " FROM public.closed_request_event(?)")) {
            ps.setString(1, requestId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return java.util.Optional.empty();
                }
                return java.util.Optional.of(new dev.cioerasure.audit.AuditEvent(requestId, null, null, dev.cioerasure.audit.Step.OUTCOME,
                        dev.cioerasure.audit.Outcome.CLOSED, null, null, rs.getString(5), rs.getString(1), instant(rs, 2), instant(rs, 3),
                        null, null, instant(rs, 4)));
            }
        }
    }

    private static java.time.Instant instant(ResultSet rs, int column) throws SQLException {
        java.time.OffsetDateTime t = rs.getObject(column, java.time.OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    /** The database's message without PostgreSQL's {@code ERROR: } prefix and its detail lines: for class CE, the function's own. */
    private static String firstLine(SQLException e) {
        return e.getMessage() == null ? "" : e.getMessage().replaceFirst("(?s)^ERROR: ", "").lines().findFirst().orElse("");
    }

    /**
     * A value for a text option: the rule the database function applies too (its length() counts
     * characters), checked before anything is asked.
     */
    private static void text(String option, String value, int max, String why) {
        // spaces only (of any kind) name nobody and give no reason; close_request refuses them too (V18)
        if (value.codePoints().allMatch(dev.cioerasure.text.VisibleText::isSpace)
                || value.codePointCount(0, value.length()) > max || value.indexOf('@') >= 0
                || value.codePoints().anyMatch(AuditCommand::hidden)) {
            throw new Errors.UserError(option + ": must be 1-" + max + " characters, not only spaces, without control or invisible characters or @ ("
                    + why + ")", 2);
        }
    }

    /**
     * What the database's refusal means: the function's own (class CE); a login without the role or
     * a database without V14, as {@link SchemaAccess#explain} says for every command; else the connection's.
     */
    private RuntimeException refused(SQLException e, Settings.Database db) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String message = firstLine(e);
        return switch (state) {
            case "CE001" -> new Errors.UserError("no outcome recorded for request " + requestId + ": nothing to close", AuditCommand.NOT_FOUND);
            case "CE002" -> new Errors.UserError("request " + requestId + " was erased (COMPLETED): nothing to close", AuditCommand.NOT_FOUND);
            case "CE003" -> new Errors.UserError("request " + requestId + " is " + message
                    + ("RETRY_SCHEDULED".equals(message) ? ", still being worked on: close it once it is FAILED (parked shows it)"
                    : "CLOSED".equals(message) ? " already" : "") + "; only a REJECTED or FAILED request can be closed", AuditCommand.NOT_FOUND);
            case "CE004" -> new Errors.UserError(message, 2);
            default -> {
                ServiceProblem refused = SchemaAccess.explain(e, db, SchemaAccess.Need.CLOSER);
                yield refused != null ? refused : Preflight.explain(e, db);
            }
        };
    }
}
