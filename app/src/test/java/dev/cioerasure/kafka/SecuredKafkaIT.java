package dev.cioerasure.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.intake.IntakeServer;
import dev.cioerasure.intake.Signatures;
import dev.cioerasure.metrics.Metrics;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A broker whose only listener requires SASL/PLAIN and whose authorizer refuses anyone else:
 * the worker, submit, the intake and dlq reach it through the documented KAFKA_SASL_* settings,
 * and a wrong password is a clear configuration error that never shows the password.
 */
class SecuredKafkaIT {
    private static final String WEBHOOK_SECRET = "sasl-it-webhook-secret-0123456789";
    private static EmbeddedKafka sasl;
    @TempDir
    static Path dir;

    @BeforeAll
    static void startBroker() throws Exception {
        sasl = EmbeddedKafka.startSasl();
    }

    @AfterAll
    static void stopBroker() throws Exception {
        sasl.close();
    }

    private static Map<String, String> env(String topic, String password) throws Exception {
        Path pw = Files.writeString(Files.createTempFile(dir, "kafka-password", ""), password + "\n");
        Map<String, String> env = new HashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", sasl.bootstrapServers());
        env.put("ERASURE_TOPIC", topic);
        env.put("ERASURE_GROUP_ID", "group-" + topic);
        env.put("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT");
        env.put("KAFKA_SASL_MECHANISM", "PLAIN");
        env.put("KAFKA_SASL_USERNAME", EmbeddedKafka.SASL_USER);
        env.put("KAFKA_SASL_PASSWORD_FILE", pw.toString());
        env.put("AUDIT_SUBJECT_KEY", WorkerHarness.AUDIT_KEY);
        return env;
    }

    @Test
    void theWorkerSubmitIntakeAndDlqWorkAgainstASaslBroker() throws Exception {
        WireMockServer track = TrackStubs.started();
        // the topic name is only known once the harness exists; the client settings do not depend on it
        Settings.Kafka fromEnv = SettingsLoader.load(env("erasure.requests", EmbeddedKafka.SASL_PASSWORD),
                EnumSet.of(SettingsLoader.Part.KAFKA)).kafka();
        assertThat(fromEnv.client().describe()).contains("SASL_PLAINTEXT (PLAIN)", "sasl.jaas.config=[hidden] (file ")
                .doesNotContain(EmbeddedKafka.SASL_PASSWORD);
        try (WorkerHarness h = new WorkerHarness(sasl, fromEnv.client(), URI.create(track.baseUrl()), 1000, 5, Duration.ofSeconds(5), 2)) {
            Map<String, String> env = env(h.topic, EmbeddedKafka.SASL_PASSWORD);

            // submit
            Path csv = dir.resolve("sasl.csv");
            Files.writeString(csv, "request_id,identifier_type,identifier,regulation,requested_by\nr-submit,id,sasl-1,GDPR,desk/1\n");
            Cli.Run submitted = Cli.run(env, "submit", "--file", csv.toString());
            assertThat(submitted.exit()).as(submitted.err()).isZero();

            // the intake
            Settings intakeSettings = new Settings(h.settings.kafka(), null, null, h.settings.audit(), null,
                    List.of(Secret.of("ERASURE_WEBHOOK_SECRET", WEBHOOK_SECRET)));
            try (IntakeServer intake = new IntakeServer(intakeSettings, 0, Metrics.prometheus(), Clock.systemUTC())) {
                byte[] body = Messages.request("r-intake", "id", "sasl-2");
                String ts = Long.toString(Instant.now().getEpochSecond());
                HttpResponse<String> accepted = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                                URI.create("http://localhost:" + intake.port() + "/v1/requests"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", "application/json")
                        .header("X-CIO-Timestamp", ts).header("X-CIO-Signature", Signatures.signHex(WEBHOOK_SECRET, ts, body))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
            }

            // a malformed record for the dead-letter topic, then the worker
            h.send("{\"request_id\":\"r-broken\"}".getBytes(StandardCharsets.UTF_8));
            h.start();
            await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 3);
            assertThat(h.count("SELECT count(*) FROM erasure_request_status WHERE status = 'COMPLETED'")).isEqualTo(2);
            assertThat(h.deadLetters(1, Duration.ofSeconds(30))).hasSize(1);

            // dlq
            Cli.Run list = Cli.run(env, "dlq", "list");
            assertThat(list.exit()).as(list.err()).isZero();
            assertThat(list.out()).contains("r-broken", "MISSING_FIELD", "1 record(s)");
            Cli.Run replay = Cli.run(env, "dlq", "replay", "--request-id", "r-broken", "--force"); // rejected for its content: forced
            assertThat(replay.exit()).as(replay.err()).isZero();
            assertThat(replay.out()).contains("1 record(s) replayed");
            assertThat(h.read(h.topic + ".retry", 1, Duration.ofSeconds(20))).hasSize(1);

            // a wrong password: a configuration error naming the settings, never a password
            Cli.Run refused = Cli.run(env(h.topic, "not-the-password"), "dlq", "list");
            assertThat(refused.exit()).isEqualTo(78);
            assertThat(refused.err()).contains("KAFKA_SASL_", "refused this client's login")
                    .doesNotContain("not-the-password", EmbeddedKafka.SASL_PASSWORD);
        } finally {
            track.stop();
        }
    }

    /**
     * A worker whose principal lacks an ACL it needs (Write on the retry and dead-letter topics)
     * started, and would have failed at its first dead letter: it stops at start-up (78) naming
     * the ACL. One withdrawn while the worker runs: its consumer is refused on the next fetch and
     * the loop ends. That was exit 70, "ended unexpectedly", which a supervisor's restart does not
     * mend; it is a configuration error (78) naming the ACLs the worker needs.
     */
    @Test
    void aWorkerWithoutItsAclsDoesNotStartAndOneWhoseReadAclIsWithdrawnWhileItRunsExits78() throws Exception {
        WireMockServer track = TrackStubs.started();
        Settings.Kafka admin = SettingsLoader.load(env("erasure.requests", EmbeddedKafka.SASL_PASSWORD),
                EnumSet.of(SettingsLoader.Part.KAFKA)).kafka();
        Map<String, Object> adminProps = new HashMap<>(sasl.clientProperties());
        adminProps.put("bootstrap.servers", sasl.bootstrapServers());
        try (WorkerHarness h = new WorkerHarness(sasl, admin.client(), URI.create(track.baseUrl()), 1000, 5, Duration.ofSeconds(5), 2);
             org.apache.kafka.clients.admin.Admin acls = org.apache.kafka.clients.admin.Admin.create(adminProps)) {
            String user = "User:plain-user1"; // the test kit's second PLAIN login, refused everything unless an ACL allows it
            var readOnTheTopics = binding(org.apache.kafka.common.resource.ResourceType.TOPIC, h.topic,
                    org.apache.kafka.common.resource.PatternType.PREFIXED, user, org.apache.kafka.common.acl.AclOperation.READ);
            acls.createAcls(List.of(readOnTheTopics)).all().get();
            Path pw = Files.writeString(Files.createTempFile(dir, "user1-password", ""), "plain-user1-secret\n");
            Map<String, String> asUser1 = Map.of("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM", "PLAIN",
                    "KAFKA_SASL_USERNAME", "plain-user1", "KAFKA_SASL_PASSWORD_FILE", pw.toString(), "ERASURE_OUTCOMES_TOPIC", "none");

            // without Write on the retry and dead-letter topics the worker does not start (it would fail at its first dead letter)
            Path refusedLog = Files.createTempFile(dir, "acl-worker-refused", ".log");
            Process refused = dev.cioerasure.testing.WorkerProcess.start(h.settings, track.baseUrl(), 100, asUser1, refusedLog);
            assertThat(refused.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as(Files.readString(refusedLog)).isTrue();
            assertThat(refused.exitValue()).as(Files.readString(refusedLog)).isEqualTo(78);
            assertThat(Files.readString(refusedLog)).contains("does not allow this client to write to topic " + h.topic + ".retry (an ACL:"
                    + " Write on the topic for this principal; docs/operations.md lists the ACLs)");

            acls.deleteAcls(List.of(readOnTheTopics.toFilter())).all().get();
            var everythingOnTheTopics = binding(org.apache.kafka.common.resource.ResourceType.TOPIC, h.topic,
                    org.apache.kafka.common.resource.PatternType.PREFIXED, user, org.apache.kafka.common.acl.AclOperation.ALL);
            acls.createAcls(List.of(everythingOnTheTopics)).all().get();

            // every topic, but not the consumer group: refused when it joins, a configuration error too
            Path noGroupLog = Files.createTempFile(dir, "acl-worker-no-group", ".log");
            Process noGroup = dev.cioerasure.testing.WorkerProcess.start(h.settings, track.baseUrl(), 100, asUser1, noGroupLog);
            assertThat(noGroup.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as(Files.readString(noGroupLog)).isTrue();
            assertThat(noGroup.exitValue()).as(Files.readString(noGroupLog)).isEqualTo(78);
            assertThat(Files.readString(noGroupLog)).contains("refuses this worker what it needs (", "GroupAuthorizationException",
                    "group " + h.settings.kafka().groupId());

            acls.createAcls(List.of(binding(org.apache.kafka.common.resource.ResourceType.GROUP, h.settings.kafka().groupId(),
                    org.apache.kafka.common.resource.PatternType.LITERAL, user, org.apache.kafka.common.acl.AclOperation.ALL))).all().get();
            Path log = Files.createTempFile(dir, "acl-worker", ".log");
            Process worker = dev.cioerasure.testing.WorkerProcess.start(h.settings, track.baseUrl(), 100, asUser1, log);
            try {
                h.send(Messages.request("r-acl", "id", "acl-person"));
                await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 1);
                // Read withdrawn; Describe and Write stay, so that only the consumer is refused
                acls.deleteAcls(List.of(everythingOnTheTopics.toFilter())).all().get();
                acls.createAcls(List.of(
                        binding(org.apache.kafka.common.resource.ResourceType.TOPIC, h.topic, org.apache.kafka.common.resource.PatternType.PREFIXED,
                                user, org.apache.kafka.common.acl.AclOperation.DESCRIBE),
                        binding(org.apache.kafka.common.resource.ResourceType.TOPIC, h.topic, org.apache.kafka.common.resource.PatternType.PREFIXED,
                                user, org.apache.kafka.common.acl.AclOperation.WRITE))).all().get();
                assertThat(worker.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
                assertThat(worker.exitValue()).as(Files.readString(log)).isEqualTo(78);
                assertThat(Files.readString(log)).contains("refuses this worker what it needs (",
                        "TopicAuthorizationException", "docs/operations.md").doesNotContain("plain-user1-secret");
            } finally {
                worker.destroyForcibly().waitFor();
            }
        } finally {
            track.stop();
        }
    }

    private static org.apache.kafka.common.acl.AclBinding binding(org.apache.kafka.common.resource.ResourceType type, String name,
            org.apache.kafka.common.resource.PatternType pattern, String principal, org.apache.kafka.common.acl.AclOperation operation) {
        return new org.apache.kafka.common.acl.AclBinding(new org.apache.kafka.common.resource.ResourcePattern(type, name, pattern),
                new org.apache.kafka.common.acl.AccessControlEntry(principal, "*", operation,
                        org.apache.kafka.common.acl.AclPermissionType.ALLOW));
    }

    /**
     * An intake whose principal may not write to the request topic was ready and answered every
     * signed request 503 "retry later": Customer.io's webhook retries ran out while no alert
     * fired. It now refuses to start (78) naming the ACL, and a running one turns not ready with
     * that reason (ErasureIntakeNotReady) until the ACL is granted.
     */
    /** A PLAINTEXT client at a SASL listener: Kafka's client only times out; the line says what is likely wrong. */
    @Test
    void aClientWithoutSaslAtASaslListenerIsToldTheListenerMayWantAnotherProtocol() {
        Cli.Run list = Cli.run(new HashMap<>(Map.of("KAFKA_BOOTSTRAP_SERVERS", sasl.bootstrapServers(), "ERASURE_TOPIC", "any.topic")),
                "dlq", "list");
        assertThat(list.exit()).as(list.err()).isEqualTo(69);
        assertThat(list.err()).contains("KAFKA_BOOTSTRAP_SERVERS: " + sasl.bootstrapServers() + " accepts connections, but no Kafka"
                + " broker answered there within ", "a listener for another security protocol than PLAINTEXT (KAFKA_SECURITY_PROTOCOL)");
    }

    @Test
    void anIntakeThatMayNotWriteToTheTopicSaysSoAndIsNotReadyUntilItMay() throws Exception {
        String topic = "acl-intake-" + System.nanoTime();
        sasl.createTopics(1, topic, topic + ".dlq");
        Map<String, Object> adminProps = new HashMap<>(sasl.clientProperties());
        adminProps.put("bootstrap.servers", sasl.bootstrapServers());
        try (org.apache.kafka.clients.admin.Admin acls = org.apache.kafka.clients.admin.Admin.create(adminProps)) {
            String user = "User:plain-user1";
            acls.createAcls(List.of(binding(org.apache.kafka.common.resource.ResourceType.TOPIC, topic,
                    org.apache.kafka.common.resource.PatternType.PREFIXED, user, org.apache.kafka.common.acl.AclOperation.DESCRIBE)))
                    .all().get();
            Map<String, String> env = env(topic, "plain-user1-secret");
            // an operator without Read on the DLQ: one line naming the ACL (it was the consumer's exception, exit 70)
            Cli.Run list = Cli.run(new HashMap<>(Map.of("KAFKA_BOOTSTRAP_SERVERS", sasl.bootstrapServers(), "ERASURE_TOPIC", topic,
                    "KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "plain-user1",
                    "KAFKA_SASL_PASSWORD_FILE", env.get("KAFKA_SASL_PASSWORD_FILE"))), "dlq", "list");
            assertThat(list.exit()).as(list.err()).isEqualTo(78);
            assertThat(list.err()).contains("does not allow this client to read topic " + topic + ".dlq (an ACL: Read on the topic");
            env.put("KAFKA_SASL_USERNAME", "plain-user1");
            env.put("ERASURE_WEBHOOK_SECRET", WEBHOOK_SECRET);
            Path log = Files.createTempFile(dir, "acl-intake", ".log");
            ProcessBuilder intakeCommand = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                    System.getProperty("java.class.path"), "dev.cioerasure.cli.Main", "intake", "--port", "0")
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            intakeCommand.environment().putAll(env);
            Process refused = intakeCommand.start();
            assertThat(refused.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
            assertThat(refused.exitValue()).as(Files.readString(log)).isEqualTo(78);
            assertThat(Files.readString(log)).contains("ERASURE_TOPIC: the cluster at " + sasl.bootstrapServers()
                    + " does not allow this client to write to topic " + topic + " (an ACL: Write on the topic for this principal;"
                    + " docs/operations.md lists the ACLs)").doesNotContain("plain-user1-secret");

            // submit says so once, before sending, rather than once for every request Kafka refuses
            Path csv = Files.writeString(dir.resolve("acl.csv"), "request_id,identifier_type,identifier,regulation,requested_by\n"
                    + "r-acl-submit,id,acl-submit-person,GDPR,desk/1\n");
            Cli.Run submit = Cli.run(env, "submit", "--file", csv.toString());
            assertThat(submit.exit()).as(submit.err()).isEqualTo(78);
            assertThat(submit.err()).contains("does not allow this client to write to topic " + topic);
            assertThat(Files.exists(dir.resolve("acl.submitted.csv"))).as("nothing was sent, nothing recorded").isFalse();

            Settings intakeSettings = SettingsLoader.load(env, EnumSet.of(SettingsLoader.Part.KAFKA, SettingsLoader.Part.AUDIT,
                    SettingsLoader.Part.WEBHOOK));
            try (IntakeServer intake = new IntakeServer(intakeSettings, 0, Metrics.prometheus(), Clock.systemUTC())) {
                HttpClient http = HttpClient.newHttpClient();
                URI ready = URI.create("http://localhost:" + intake.port() + "/health/ready");
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(http.send(HttpRequest.newBuilder(ready).build(),
                        HttpResponse.BodyHandlers.ofString()).body()).contains("does not allow this client to write to topic " + topic));
                acls.createAcls(List.of(binding(org.apache.kafka.common.resource.ResourceType.TOPIC, topic,
                        org.apache.kafka.common.resource.PatternType.LITERAL, user, org.apache.kafka.common.acl.AclOperation.WRITE)))
                        .all().get();
                await().atMost(Duration.ofSeconds(30)).until(() -> http.send(HttpRequest.newBuilder(ready).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
                byte[] body = Messages.request("r-acl-intake", "id", "acl-intake-person");
                String ts = Long.toString(Instant.now().getEpochSecond());
                HttpResponse<String> accepted = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + intake.port() + "/v1/requests"))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).header("Content-Type", "application/json")
                        .header("X-CIO-Timestamp", ts).header("X-CIO-Signature", Signatures.signHex(WEBHOOK_SECRET, ts, body))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
            }
        }
    }
}
