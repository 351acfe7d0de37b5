package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.TestInfra;
import java.sql.Connection;
import java.sql.Statement;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;

/**
 * Migration V9 (workspaces) on a table that already holds rows: the old rows keep their hashes,
 * the new ones carry their workspace in the hash, and the chain verifies across the migration.
 */
class WorkspaceMigrationIT {
    private static final String INSERT = "INSERT INTO audit_event (request_id, step, outcome, worker_instance, occurred_at";

    @Test
    void theChainVerifiesAcrossTheMigrationAndAChangedWorkspaceBreaksIt() throws Exception {
        String name = "v9_" + ProcessHandle.current().pid() + "_" + System.nanoTime();
        try (Connection c = TestInfra.postgres().superuserDataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        Settings.Database db = new Settings.Database("jdbc:postgresql://localhost:" + TestInfra.postgres().port() + "/" + name,
                "postgres", Secret.of("DATABASE_PASSWORD", "postgres"), 2);
        DataSource ds = TestInfra.dataSource(db);
        Flyway.configure().dataSource(ds).locations("classpath:db/migration").target("8").load().migrate();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute(INSERT + ") VALUES ('old-1', 'SUPPRESS', 'SUCCEEDED', 'w-old', now())");
            st.execute(INSERT + ") VALUES ('old-1', 'OUTCOME', 'COMPLETED', 'w-old', now())");
        }
        String oldHash;
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             var rs = st.executeQuery("SELECT row_hash FROM audit_event WHERE chain_seq = 2")) {
            rs.next();
            oldHash = rs.getString(1);
        }

        Migrations.migrate(ds);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute(INSERT + ", workspace) VALUES ('new-1', 'SUPPRESS', 'SUCCEEDED', 'w-new', now(), 'brand-eu')");
            st.execute(INSERT + ", workspace) VALUES ('new-1', 'WORKSPACE', 'SUCCEEDED', 'w-new', now(), 'brand-eu')");
            st.execute(INSERT + ") VALUES ('new-1', 'OUTCOME', 'COMPLETED', 'w-new', now())");
            // a second success in the same workspace is recorded as a duplicate, not a second success
            st.execute(INSERT + ", workspace) VALUES ('new-1', 'WORKSPACE', 'SUCCEEDED', 'w-new', now(), 'brand-eu')");
            var rs = st.executeQuery("SELECT outcome, row_hash FROM audit_event ORDER BY chain_seq");
            java.util.List<String> outcomes = new java.util.ArrayList<>();
            java.util.List<String> hashes = new java.util.ArrayList<>();
            while (rs.next()) {
                outcomes.add(rs.getString(1));
                hashes.add(rs.getString(2));
            }
            assertThat(outcomes).containsExactly("SUCCEEDED", "COMPLETED", "SUCCEEDED", "SUCCEEDED", "COMPLETED", "DUPLICATE");
            assertThat(hashes.get(1)).as("a row from before V9 keeps its hash").isEqualTo(oldHash);
        }
        ChainVerifier.Result after = new ChainVerifier(ds).verify();
        assertThat(after.intact()).as("the old rows and the new ones verify as one chain").isTrue();
        assertThat(after.rowsChecked()).isEqualTo(6);

        try (Connection c = TestInfra.dataSource(db).getConnection(); Statement st = c.createStatement()) {
            st.execute("SET session_replication_role = replica");
            st.execute("UPDATE audit_event SET workspace = 'brand-us' WHERE chain_seq = 4");
            st.execute("UPDATE audit_event SET workspace = 'brand-us' WHERE chain_seq = 1"); // a workspace added to an old row
        }
        ChainVerifier.Result tampered = new ChainVerifier(ds).verify();
        assertThat(tampered.breaks()).extracting(ChainVerifier.Break::chainSeq).containsExactly(1L, 4L);
        assertThat(tampered.breaks()).allMatch(b -> b.problem().contains("row edited"));
    }
}
