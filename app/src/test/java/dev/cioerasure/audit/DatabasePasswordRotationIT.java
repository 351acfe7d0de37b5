package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.TestInfra;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DATABASE_PASSWORD_FILE rotated while a pool runs: the README says a changed secret file is
 * picked up without a restart. The pool read the password once, so once it recycled its
 * connections after a rotation, every new one was refused (28P01) until a restart.
 */
class DatabasePasswordRotationIT {
    @Test
    void aRotatedPasswordFileReachesTheConnectionsThePoolOpensAfterIt(@TempDir Path dir) throws Exception {
        Settings.Database owner = TestInfra.freshDatabase();
        String role = "rotating_" + UUID.randomUUID().toString().substring(0, 8);
        exec(owner, "CREATE ROLE " + role + " LOGIN PASSWORD 'first-password' IN ROLE cio_erasure_writer");
        Path file = Files.writeString(dir.resolve("database_password"), "first-password\n");
        Settings.Database db = new Settings.Database(owner.url(), role, Secret.fromFile("DATABASE_PASSWORD_FILE", file), 2);
        try (HikariDataSource pool = Databases.pool(db, "rotation", null)) {
            assertThat(works(pool)).isTrue();
            exec(owner, "ALTER ROLE " + role + " PASSWORD 'second-password'");
            Files.writeString(file, "second-password\n");
            Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
            pool.getHikariPoolMXBean().softEvictConnections(); // as maxLifetime would, later
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(500)).until(() -> works(pool));
        }
        // the file is what counts: a pool started now with the old password is refused
        Settings.Database stale = new Settings.Database(owner.url(), role, Secret.of("DATABASE_PASSWORD", "first-password"), 1);
        try (HikariDataSource pool = Databases.pool(stale, "stale", null)) {
            assertThatThrownBy(() -> pool.getConnection().close()).isInstanceOf(SQLException.class);
            // and the worker's readiness says why, not only "unreachable"
            assertThat(new AuditLog(pool).whyUnreachable()).contains("SQLState 28P01 invalid_password");
        }
    }

    private static boolean works(HikariDataSource pool) {
        try (Connection c = pool.getConnection(); Statement st = c.createStatement()) {
            return st.execute("SELECT 1");
        } catch (SQLException e) {
            return false;
        }
    }

    private static void exec(Settings.Database db, String sql) throws SQLException {
        try (Connection c = TestInfra.dataSource(db).getConnection(); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
