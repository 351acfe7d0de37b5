package dev.cioerasure.preflight;

import dev.cioerasure.config.Settings;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.postgresql.util.PSQLException;

/**
 * Whether the login may use the audit tables a command needs, in a database that holds this
 * release's tables. A refusal here is a setting, not an outage, and waiting does not mend it: the
 * wrong database, one that was never migrated (or by an older release), or a login that is not in
 * the group role the command needs. Each is one line that names the setting (exit 78), before the
 * command prints or takes anything: a worker that started anyway would join its group and hold
 * partitions it can never finish.
 */
public final class SchemaAccess {
    /** What a command does with the audit tables, and so which group role its login needs. */
    public enum Need {
        /** Appends audit rows and leases the group's Track rate. */
        WORKER("the worker needs a login in cio_erasure_writer",
                "SELECT FROM audit_event e, rate_budget_lease, audit_subject_key WHERE e.workspace IS NULL LIMIT 0"),
        /** Reads the audit table and its views. */
        AUDITOR("the audit commands, and dlq and parked with DATABASE_URL set, need a login in cio_erasure_auditor",
                "SELECT FROM audit_event e, audit_subject_key, erasure_request_status, erasure_workspace_status"
                        + " WHERE e.workspace IS NULL LIMIT 0"),
        /** Creates and changes the tables (migrate): no probe, its refusals are explained only. */
        OWNER("migrate needs the database's owner, or a role that may create tables and roles", null),
        /** Calls close_request (the command close): no probe, its refusals are explained only. */
        CLOSER("close needs a login in cio_erasure_closer", null);

        private final String role;
        /** Reads every object (and the newest column, V9's workspace) the command needs; no row. */
        private final String probe;

        Need(String role, String probe) {
            this.role = role;
            this.probe = probe;
        }
    }

    /** 42P01 undefined_table, 42703 undefined_column, 3F000 invalid_schema_name, 42883 undefined_function. */
    private static final Set<String> NOT_MIGRATED = Set.of("42P01", "42703", "3F000", "42883");
    private static final String ROLES = " (docs/operations.md, \"Database\")";

    private SchemaAccess() { }

    /**
     * A session that may not write: a hot standby or read replica (a cloud database's reader
     * endpoint named by mistake), or default_transaction_read_only set for the database or the
     * login. A worker started there, and every audit write failed (SQLState 25006) while it held
     * its partitions; migrate failed with Flyway's message. Exit 78 instead, saying so.
     */
    public static void readOnly(Statement st, Settings.Database db, String why) throws SQLException {
        try (ResultSet rs = st.executeQuery("SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('transaction_read_only')")) {
            if (rs.next() && (rs.getBoolean(1) || "on".equals(rs.getString(2)))) {
                throw Preflight.config("DATABASE_URL: database '" + Preflight.database(db.url()) + "' at " + Preflight.hostAndPort(db.url())
                        + (rs.getBoolean(1) ? " is a standby (read-only, in recovery)" : " takes no writes from this login"
                        + " (default_transaction_read_only is on)") + ", and " + why + ": name the primary (a cloud database's"
                        + " writer endpoint, not its reader)");
            }
        }
    }

    /**
     * A database not encoded in UTF8 (LATIN1, SQL_ASCII: an old cluster's default): the audit
     * table holds Unicode text (requested_by, reasons, workspace names) that LATIN1 cannot store,
     * so one such row would fail its whole batch again and again (SQLState 22P05) while the
     * worker held its partitions, and migrate failed with "run migrate as the database owner".
     * SQL_ASCII stores bytes unchecked. Exit 78 instead, saying so.
     */
    public static void unicode(Statement st, Settings.Database db, String why) throws SQLException {
        try (ResultSet rs = st.executeQuery("SELECT pg_catalog.current_setting('server_encoding')")) {
            if (rs.next() && !"UTF8".equals(rs.getString(1))) {
                throw Preflight.config("DATABASE_URL: database '" + Preflight.database(db.url()) + "' at " + Preflight.hostAndPort(db.url())
                        + " is encoded " + rs.getString(1) + ", not UTF8, and " + why + ": the audit table holds Unicode text"
                        + " (requested_by, reasons) that it cannot store; create the database with ENCODING 'UTF8'"
                        + " (CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0)");
            }
        }
    }

    /** Runs the need's probe on a connection of {@code dataSource}; throws a {@link ServiceProblem} if it is refused. */
    public static void check(DataSource dataSource, Settings.Database db, Need need) {
        if (need.probe == null) {
            throw new IllegalArgumentException(need + " has no probe");
        }
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            if (need == Need.WORKER) {
                unicode(st, db, "the worker appends to the audit table"); // before the probe, which would send it to migrate
            }
            st.executeQuery(need.probe).close();
            if (need == Need.WORKER) {
                readOnly(st, db, "the worker appends to the audit table");
                // the writer role may insert only the data columns: a column privilege, not a table one
                try (ResultSet rs = st.executeQuery("SELECT has_any_column_privilege('public.audit_event', 'INSERT')")) {
                    if (rs.next() && !rs.getBoolean(1)) {
                        throw Preflight.config("DATABASE_USER: user '" + db.user() + "' may read the audit table but not append"
                                + " to it: " + need.role + ROLES);
                    }
                }
            }
        } catch (SQLException e) {
            ServiceProblem p = explain(e, db, need);
            throw p != null ? p : Preflight.explain(e, db);
        }
    }

    /**
     * Why the worker's login holds more than the writer role's rights over the audit table: a
     * superuser or the table's owner can disable its triggers and rewrite the chain (docs/security.md,
     * out of scope), and UPDATE/DELETE/TRUNCATE are grants the writer never needs. Empty when it
     * holds no more. The worker then still runs (the demo and tests log in as the owner), but says so.
     */
    public static Optional<String> beyondTheWriter(DataSource dataSource, String user) throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT r.rolsuper, pg_has_role(current_user, t.relowner, 'USAGE'),"
                     + " has_table_privilege('public.audit_event', 'UPDATE') OR has_table_privilege('public.audit_event', 'DELETE')"
                     + " OR has_table_privilege('public.audit_event', 'TRUNCATE'), current_user"
                     + " FROM pg_catalog.pg_roles r, pg_catalog.pg_class t"
                     + " WHERE r.rolname = current_user AND t.oid = 'public.audit_event'::regclass")) {
            if (!rs.next()) {
                return Optional.empty();
            }
            String what = rs.getBoolean(1) ? "is a superuser" : rs.getBoolean(2) ? "owns the audit table (or is in the role that does)"
                    : rs.getBoolean(3) ? "may UPDATE, DELETE or TRUNCATE the audit table" : null;
            // the login PostgreSQL sees: a user= parameter in DATABASE_URL wins over DATABASE_USER
            String login = rs.getString(4);
            String who = login.equals(user) ? "user '" + user + "'" : "the login '" + login + "' (not DATABASE_USER '" + user
                    + "': a user= parameter of DATABASE_URL wins over it)";
            return Optional.ofNullable(what).map(w -> "DATABASE_USER: " + who + " " + w + ": whoever holds its password can"
                    + " disable the append-only triggers or has rights the worker never needs; run the worker as a login that is only in"
                    + " cio_erasure_writer" + ROLES);
        }
    }

    /**
     * What a refusal by the schema or the grants means, for an operator; null when {@code e} is
     * another failure (a connection lost, say). {@code db} and {@code need} may be null where the
     * caller does not know them.
     */
    public static ServiceProblem explain(Throwable e, Settings.Database db, Need need) {
        SQLException sql = Preflight.cause(e, SQLException.class);
        if (sql == null || sql.getSQLState() == null) {
            return null;
        }
        String state = sql.getSQLState();
        String cause = "(SQLState " + state + ": " + serverMessage(sql) + ")";
        if ("42501".equals(state)) {
            return Preflight.config("DATABASE_USER: PostgreSQL does not let " + (db == null ? "this login" : "user '" + db.user() + "'")
                    + " use the audit tables " + cause + ": " + (need == null ? "see which role each command needs" : need.role) + ROLES);
        }
        if (NOT_MIGRATED.contains(state) && need != Need.OWNER) { // migrate is what makes them
            return Preflight.config("DATABASE_URL: " + (db == null ? "the database" : "database '" + Preflight.database(db.url())
                    + "' at " + Preflight.hostAndPort(db.url())) + " does not hold the audit tables of this release " + cause
                    + ": is it the right database? If so, run 'migrate' as its owner first");
        }
        return null;
    }

    /** The server's own sentence (it names the object, never a row's values), without pgjdbc's "Position: …" line. */
    private static String serverMessage(SQLException e) {
        if (e instanceof PSQLException p && p.getServerErrorMessage() != null && p.getServerErrorMessage().getMessage() != null) {
            return p.getServerErrorMessage().getMessage();
        }
        String m = String.valueOf(e.getMessage());
        int newline = m.indexOf('\n');
        return (newline < 0 ? m : m.substring(0, newline)).replaceFirst("^ERROR: ", "");
    }
}
