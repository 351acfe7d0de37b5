package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.config.Settings;
import dev.cioerasure.evidence.SigningKey;
import dev.cioerasure.preflight.ServiceProblem;
import dev.cioerasure.worker.WorkerRuntime;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TestInfra;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker publishes signed checkpoints of the audit chain to a Kafka topic and a directory;
 * audit verify compares the table with them and names what a superuser did that the chain
 * alone cannot show: a consistently rewritten (re-hashed) history, a truncated tail with the
 * head rewound.
 */
class CheckpointsIT {
    @TempDir
    Path dir;

    @Test
    void checkpointsCatchWhatTheChainAloneCannot() throws Exception {
        WireMockServer track = TrackStubs.started();
        SigningKey signing = SigningKey.generate();
        Path key = dir.resolve("signing.pem");
        Files.writeString(key, signing.privateKeyPem());
        Path pub = dir.resolve("signing.pub.pem");
        Files.writeString(pub, SigningKey.publicKeyPem(signing.publicKey()));
        Path checkpoints = Files.createDirectory(dir.resolve("checkpoints"));
        try (WorkerHarness h = WorkerHarness.forStub(URI.create(track.baseUrl()))) {
            String topic = h.topic + ".checkpoints";
            TestInfra.kafka().createTopics(1, topic);
            Settings s = h.settings;
            h.settings = new Settings(s.kafka(), s.database(), s.customerIo(),
                    // checked every hour: within this test only the checkpoint published on shutdown appears
                    new Settings.Audit(s.audit().subjectKey(), new Settings.Checkpoints(key, topic, checkpoints, Duration.ofHours(1))),
                    s.worker(), List.of());
            for (int i = 0; i < 4; i++) {
                h.send(Messages.request("r-cp-" + i, "id", "cp-person-" + i));
            }
            Settings noTopic = new Settings(s.kafka(), s.database(), s.customerIo(),
                    new Settings.Audit(s.audit().subjectKey(), new Settings.Checkpoints(key, h.topic + ".no-such-topic", null, Duration.ofSeconds(1))),
                    s.worker(), List.of());
            assertThatThrownBy(() -> WorkerRuntime.start(noTopic, java.time.Clock.systemUTC()))
                    .isInstanceOfSatisfying(ServiceProblem.class, p -> assertThat(p.kind()).isEqualTo(ServiceProblem.Kind.CONFIGURATION))
                    .hasMessageContaining(h.topic + ".no-such-topic").hasMessageContaining("does not exist");
            h.start();
            assertThat(h.runtime().meters().scrape()).contains("erasure_audit_checkpoints_total");
            await().atMost(Duration.ofSeconds(30)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED'") == 4);
            int first = h.count("SELECT count(*) FROM audit_event");
            assertThat(checkpoints).isEmptyDirectory();
            h.stop();
            assertThat(checkpoints.resolve("checkpoint-" + s.worker().instanceId() + "-" + first + ".json")).as("published on shutdown")
                    .exists();
            // checked every second: a checkpoint follows the chain while the worker runs
            h.settings = new Settings(s.kafka(), s.database(), s.customerIo(),
                    new Settings.Audit(s.audit().subjectKey(), new Settings.Checkpoints(key, topic, checkpoints, Duration.ofSeconds(1))),
                    s.worker(), List.of());
            h.send(Messages.request("r-cp-4", "id", "cp-person-4"));
            h.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED'") == 5);
            int rows = h.count("SELECT count(*) FROM audit_event");
            await().atMost(Duration.ofSeconds(15)).until(() -> Files.exists(checkpoints.resolve("checkpoint-" + s.worker().instanceId() + "-"
                    + rows + ".json")));
            h.stop();

            Settings.Database owner = h.ownerDatabase();
            Map<String, String> env = new HashMap<>(Map.of("DATABASE_URL", owner.url(), "DATABASE_USER", owner.user(),
                    "DATABASE_PASSWORD", owner.password().reveal(), "KAFKA_BOOTSTRAP_SERVERS", TestInfra.kafka().bootstrapServers()));
            Cli.Run agree = Cli.run(env, "audit", "verify", "--checkpoint-dir", checkpoints.toString(), "--public-key", pub.toString());
            assertThat(agree.exit()).as(agree.out() + agree.err()).isZero();
            assertThat(agree.out()).contains("INTACT", "CHECKPOINTS AGREE", "up to row " + rows);
            assertThat(h.count("SELECT count(*) FROM audit_event")).isEqualTo(rows);
            Cli.Run fromKafka = Cli.run(env, "audit", "verify", "--checkpoint-topic", topic, "--public-key", pub.toString());
            assertThat(fromKafka.exit()).as(fromKafka.out() + fromKafka.err()).isZero();
            assertThat(fromKafka.out()).contains("CHECKPOINTS AGREE", "up to row " + rows);
            Cli.Run noKey = Cli.run(env, "audit", "verify", "--checkpoint-dir", checkpoints.toString());
            assertThat(noKey.exit()).isEqualTo(2);

            // A superuser rewrites a row and recomputes every hash after it: the chain alone says INTACT.
            try (Connection c = h.db.getConnection(); Statement st = c.createStatement()) {
                st.execute("SET session_replication_role = replica");
                st.execute("UPDATE audit_event SET reason = 'edited by a superuser' WHERE chain_seq = 2");
                st.execute("""
                        DO $$
                        DECLARE r audit_event%ROWTYPE; prev text; h text;
                        BEGIN
                          SELECT row_hash INTO prev FROM audit_event WHERE chain_seq = 1;
                          FOR r IN SELECT * FROM audit_event WHERE chain_seq >= 2 ORDER BY chain_seq LOOP
                            h := encode(sha256(convert_to(prev || audit_canonical(r), 'UTF8')), 'hex');
                            UPDATE audit_event SET prev_hash = prev, row_hash = h WHERE chain_seq = r.chain_seq;
                            prev := h;
                          END LOOP;
                          UPDATE audit_chain_head SET last_hash = prev;
                        END $$""");
            }
            assertThat(Cli.run(env, "audit", "verify").out()).as("the chain alone cannot tell").contains("INTACT");
            Cli.Run rewritten = Cli.run(env, "audit", "verify", "--checkpoint-dir", checkpoints.toString(), "--public-key", pub.toString());
            assertThat(rewritten.exit()).isEqualTo(3);
            assertThat(rewritten.out()).contains("CHECKPOINTS CONTRADICT THE TABLE", "REWRITTEN: row " + rows + "'s hash is not the one");

            // ... or deletes the last rows and rewinds the head.
            try (Connection c = h.db.getConnection(); Statement st = c.createStatement()) {
                st.execute("SET session_replication_role = replica");
                st.execute("DELETE FROM audit_event WHERE chain_seq > " + (rows - 2));
                st.execute("UPDATE audit_chain_head SET last_seq = " + (rows - 2)
                        + ", last_hash = (SELECT row_hash FROM audit_event WHERE chain_seq = " + (rows - 2) + ")");
            }
            assertThat(Cli.run(env, "audit", "verify").out()).as("the chain alone cannot tell").contains("INTACT");
            Cli.Run truncated = Cli.run(env, "audit", "verify", "--checkpoint-dir", checkpoints.toString(), "--public-key", pub.toString());
            assertThat(truncated.exit()).isEqualTo(3);
            assertThat(truncated.out()).contains("TRUNCATED: the table ends at row " + (rows - 2), "rows were deleted from the end and the chain head rewound");

            // a forged checkpoint file (another key) is ignored and said so
            Files.write(checkpoints.resolve("forged.json"), new dev.cioerasure.evidence.Checkpoint(1, "0".repeat(64),
                    java.time.Instant.now(), "forger").signed(SigningKey.generate()));
            assertThat(Cli.run(env, "audit", "verify", "--checkpoint-dir", checkpoints.toString(), "--public-key", pub.toString()).out())
                    .contains("1 checkpoint(s) ignored: not a checkpoint, or not signed by this key");
            // a directory named like a checkpoint stopped the check (exit 70, "Is a directory"), and every file was
            // read whole; what is not a regular file, or is larger than any checkpoint, is now ignored unread
            Files.createDirectory(checkpoints.resolve("zz-a-directory.json"));
            Files.write(checkpoints.resolve("zz-huge.json"), new byte[100 * 1024]);
            Cli.Run odd = Cli.run(env, "audit", "verify", "--checkpoint-dir", checkpoints.toString(), "--public-key", pub.toString());
            assertThat(odd.exit()).as(odd.err()).isEqualTo(3);
            assertThat(odd.out()).contains("3 checkpoint(s) ignored", "TRUNCATED: the table ends at row " + (rows - 2));
        } finally {
            track.stop();
        }
    }
}
