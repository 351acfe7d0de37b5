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
                "Needs DATABASE_URL, DATABASE_USER, DATABASE_PASSWORD of a login in cio_erasure_closer."})
final class CloseCommand implements Callable<Integer> {
    static final int MAX_BY = 200;
    static final int MAX_WHY = 500;

    @Parameters(paramLabel = "REQUEST_ID", description = "The request id.")
    String requestId;

    @Option(names = "--by", required = true, paramLabel = "WHO",
            description = "Who decided: a team or ticket reference, 1-200 characters, no @ (not an email address).")
    String by;

    @Option(names = "--why", required = true, paramLabel = "REASON",
            description = "Why nobody is erased, 1-500 characters, no @: it is stored in the audit table, which holds no identifier.")
    String why;

    @Override
    public Integer call() {
        Errors.requestIdArgument("REQUEST_ID", requestId);
        text("--by", by, MAX_BY, "a team or ticket reference, not an email address");
        text("--why", why, MAX_WHY, "the audit table holds no identifier, so no email address");
        Settings.Database db = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.DATABASE)).database();
        Preflight.database(db);
        try (HikariDataSource ds = Databases.pool(db, "close", null); Connection c = ds.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT public.close_request(?, ?, ?)")) {
            try (java.sql.Statement st = c.createStatement()) {
                SchemaAccess.readOnly(st, db, "close appends a row"); // a reader endpoint named by mistake: 25006 said only its code
            }
            ps.setString(1, requestId);
            ps.setString(2, by);
            ps.setString(3, why);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                System.out.println("closed request " + requestId + " without erasure: audit row " + rs.getLong(1) + " (OUTCOME CLOSED,"
                        + " by " + by + "); it is no longer open or overdue");
            }
            return 0;
        } catch (SQLException e) {
            throw refused(e, db);
        }
    }

    /** A value for a text option: the rule the database function applies too, checked before anything is asked. */
    private static void text(String option, String value, int max, String why) {
        if (value.isEmpty() || value.length() > max || value.indexOf('@') >= 0 || value.codePoints().anyMatch(AuditCommand::hidden)) {
            throw new Errors.UserError(option + ": must be 1-" + max + " characters, without control or invisible characters or @ ("
                    + why + ")", 2);
        }
    }

    /**
     * What the database's refusal means: the function's own (class CE); a login without the role or
     * a database without V14, as {@link SchemaAccess#explain} says for every command; else the connection's.
     */
    private RuntimeException refused(SQLException e, Settings.Database db) {
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String message = e.getMessage() == null ? "" : e.getMessage().replaceFirst("(?s)^ERROR: ", "").lines().findFirst().orElse("");
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
