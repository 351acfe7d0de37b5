package dev.cioerasure.tools;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.audit.AuditQueries;
import dev.cioerasure.audit.Databases;
import dev.cioerasure.audit.Migrations;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.cli.Errors;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.evidence.CheckpointCheck;
import dev.cioerasure.evidence.Receipt;
import dev.cioerasure.evidence.SigningKey;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.RecordKeys;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.Regulation;
import dev.cioerasure.request.RequestJson;
import dev.cioerasure.testkit.embedded.EmbeddedDatabase;
import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import dev.cioerasure.worker.WorkerRuntime;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the whole system on embedded defaults, then exit.",
                "A real single-node Kafka (KRaft), a real embedded PostgreSQL and a local Customer.io sandbox."
                        + " Submits sample requests (valid ones, a duplicate and malformed ones), processes them, prints the"
                        + " audit trail, and exits."})
final class DemoCommand implements Callable<Integer> {
    private static final String TOPIC = "erasure.requests";

    @Option(names = "--requests", description = "Number of valid sample requests (default: ${DEFAULT-VALUE}).", defaultValue = "20")
    int requests;

    @Option(names = "--keep-running", description = "Keep everything running after the demo (Ctrl-C to stop), to browse /metrics.")
    boolean keepRunning;

    @Option(names = "--metrics-port", description = "Port for /metrics and health (default: ${DEFAULT-VALUE}; 0 = any free port).", defaultValue = "9400")
    int metricsPort;

    @Override
    public Integer call() throws Exception {
        // before anything starts: both were found only after Kafka and PostgreSQL had, and ended with exit 70
        // (a NullPointerException for --requests 0, "Port value out of range" for --metrics-port 99999)
        if (requests < 1 || requests > 10_000) {
            throw new Errors.UserError("--requests must be 1..10000 (got " + requests + ")", 2);
        }
        if (metricsPort < 0 || metricsPort > 65_535) {
            throw new Errors.UserError("--metrics-port must be 0..65535 (0: any free port)", 2);
        }
        long t0 = System.nanoTime();
        say("starting embedded PostgreSQL and Kafka (KRaft) ...");
        CompletableFuture<EmbeddedDatabase> dbStart = CompletableFuture.supplyAsync(() -> unchecked(EmbeddedDatabase::start));
        try (EmbeddedKafka kafka = EmbeddedKafka.start();
             EmbeddedDatabase db = dbStart.join()) {
            kafka.createTopics(3, TOPIC, TOPIC + ".dlq", TOPIC + ".retry", TOPIC + ".verify");
            String siteId = "demo-site";
            String apiKey = randomHex(16);
            String appKey = randomHex(16);
            String euSiteId = "demo-site-eu";
            String euApiKey = randomHex(16);
            String euAppKey = randomHex(16);
            // Two workspaces, as a company with a US and an EU brand has them: each its own sandbox, keys and limits.
            try (TrackSandbox sandbox = new TrackSandbox(TrackSandbox.Options.demo(siteId, apiKey));
                 TrackSandbox euSandbox = new TrackSandbox(TrackSandbox.Options.demo(euSiteId, euApiKey))) {
                // Customer.io deletes asynchronously: the sandbox's App API finds a person until 2 s after the erasure.
                sandbox.enableAppApi(appKey, Duration.ofSeconds(2));
                euSandbox.enableAppApi(euAppKey, Duration.ofSeconds(2));
                say("Kafka at %s, PostgreSQL on port %d, two Customer.io workspaces: brand-us at %s, brand-eu at %s (each 50 ms latency,"
                        + " 429 past 100 calls/s; App API: 10 look-ups/s, a person gone 2 s after the erasure)", kafka.bootstrapServers(),
                        db.port(), sandbox.baseUrl(), euSandbox.baseUrl());
                Settings.Database dbSettings = new Settings.Database(db.jdbcUrl(), "postgres", Secret.of("DATABASE_PASSWORD", "postgres"), 4);
                try (HikariDataSource ds = Databases.pool(dbSettings, "demo", null)) {
                    Migrations.migrate(ds);
                    // the worker logs in as docs/operations.md says: a login in cio_erasure_writer only, not the owner
                    String workerPassword = randomHex(16);
                    try (java.sql.Connection c = ds.getConnection(); java.sql.Statement st = c.createStatement()) {
                        st.execute("CREATE ROLE demo_worker LOGIN PASSWORD '" + workerPassword + "' IN ROLE cio_erasure_writer");
                    }
                    // (without the embedded server's ?user=postgres, which would win over the worker's login)
                    Settings.Database workerDb = new Settings.Database(db.jdbcUrl().replaceFirst("\\?.*$", ""), "demo_worker",
                            Secret.of("DATABASE_PASSWORD", workerPassword), 4);
                    Secret auditKey = Secret.of("AUDIT_SUBJECT_KEY", randomHex(32));
                    // evidence outside the database: a signing key and a checkpoint directory of the demo's own
                    Path evidence = Files.createTempDirectory("cio-erasure-demo-evidence");
                    SigningKey signing = SigningKey.generate();
                    Path keyFile = Files.writeString(evidence.resolve("audit-signing.pem"), signing.privateKeyPem());
                    Path checkpointDir = Files.createDirectory(evidence.resolve("checkpoints"));
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(evidence), "demo-cleanup")); // a private key, if a throwaway one
                    Settings.CustomerIo us = new Settings.CustomerIo(siteId, Secret.of("brand-us track key", apiKey), Settings.Region.US,
                            sandbox.baseUrl(), 100, 5, Duration.ofSeconds(5), Duration.ofSeconds(10))
                            // checks 1 s after the erasure, then 2 s, 4 s … later, until 60 s after it; a 404
                            // counts once the key finds the control person (a profile the sandbox holds, never erased)
                            .withVerification(new Settings.Verification(Secret.of("brand-us app key", appKey),
                                    sandbox.baseUrl(), 10, Duration.ofSeconds(1), Duration.ofSeconds(60),
                                    Secret.of("CUSTOMERIO_APP_CONTROL_PERSON_ID", "demo-control-profile")));
                    Settings.CustomerIo eu = new Settings.CustomerIo(euSiteId, Secret.of("brand-eu track key", euApiKey), Settings.Region.EU,
                            euSandbox.baseUrl(), 100, 5, Duration.ofSeconds(5), Duration.ofSeconds(10))
                            .withVerification(new Settings.Verification(Secret.of("brand-eu app key", euAppKey),
                                    euSandbox.baseUrl(), 10, Duration.ofSeconds(1), Duration.ofSeconds(60),
                                    Secret.of("CUSTOMERIO_APP_CONTROL_PERSON_ID", "demo-control-profile")));
                    Settings settings = new Settings(
                            new Settings.Kafka(kafka.bootstrapServers(), TOPIC, "cio-erasure-demo"),
                            workerDb,
                            us,
                            new Settings.Audit(auditKey, new Settings.Checkpoints(keyFile, null, checkpointDir, Duration.ofSeconds(1))),
                            new Settings.Worker("demo-worker", 64, freeOrAny(metricsPort)),
                            List.of(),
                            List.of(new Settings.Workspace("brand-us", us), new Settings.Workspace("brand-eu", eu)));
                    try (WorkerRuntime worker = WorkerRuntime.start(settings, Clock.systemUTC())) {
                        int sent = submitSamples(kafka.bootstrapServers(), new SubjectHasher(auditKey));
                        say("submitted %d messages (%d valid, 1 duplicate, 3 malformed); processing ...", sent, requests);
                        waitForOutcomes(ds, sent, Duration.ofSeconds(120));
                        waitForVerifications(ds, Duration.ofSeconds(120));
                        printAuditTrail(ds);
                        showEvidence(ds, signing, checkpointDir);
                        say("Customer.io sandboxes answered %d Track calls (%d throttled with 429) and %d App API look-ups (%d over its limit)"
                                + " in brand-us, %d Track calls (%d throttled) and %d look-ups (%d over its limit) in brand-eu",
                                sandbox.accepted(), sandbox.throttled(), sandbox.appCalls(), sandbox.appOverWindow(),
                                euSandbox.accepted(), euSandbox.throttled(), euSandbox.appCalls(), euSandbox.appOverWindow());
                        say("demo finished in %.1f s", (System.nanoTime() - t0) / 1e9);
                        if (keepRunning) {
                            say("metrics: http://localhost:%d/metrics  health: http://localhost:%d/health/ready",
                                    worker.metricsPort(), worker.metricsPort());
                            say("still running; press Ctrl-C to stop");
                            Runtime.getRuntime().addShutdownHook(new Thread(DemoCommand::stopQuietly, "demo-stop"));
                            Thread.currentThread().join();
                        }
                    }
                }
            }
        }
        return 0;
    }

    private int submitSamples(String bootstrap, SubjectHasher hasher) throws Exception {
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        Instant now = Instant.now();
        ErasureRequest first = null;
        for (int i = 0; i < requests; i++) {
            Identifier id = switch (i % 4) {
                case 0 -> Identifier.email("jane.doe+" + i + "@example.com");
                case 1 -> Identifier.id("customer-" + (1000 + i));
                case 2 -> Identifier.cioId("a3000" + (100 + i));
                default -> Identifier.email("zoë" + i + "@exämple.org");
            };
            // every fifth request names the EU brand only; the others go to every workspace
            ErasureRequest r = new ErasureRequest(String.format("demo-%04d", i), id, i % 3 == 0 ? Regulation.CCPA : Regulation.GDPR,
                    now.minus(Duration.ofDays(i)), "privacy-desk/ticket-" + (4700 + i), i % 5 == 4 ? List.of("brand-eu") : List.of());
            first = first == null ? r : first;
            out.add(new ProducerRecord<>(TOPIC, RecordKeys.forSubject(hasher.hash(id)), RequestJson.toBytes(r)));
        }
        // The same request again: recorded as DUPLICATE, nothing sent to Customer.io.
        out.add(new ProducerRecord<>(TOPIC, RecordKeys.forSubject(hasher.hash(first.identifier())), RequestJson.toBytes(first)));
        // Malformed: broken JSON, an unknown field carrying personal data, an id that looks like an email.
        out.add(new ProducerRecord<>(TOPIC, null, "{\"request_id\": \"demo-bad-1\", \"identifier\": ".getBytes(StandardCharsets.UTF_8)));
        out.add(new ProducerRecord<>(TOPIC, null, ("{\"request_id\":\"demo-bad-2\",\"identifier\":{\"type\":\"email\",\"value\":\"x@example.com\"},"
                + "\"regulation\":\"GDPR\",\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"desk\","
                + "\"profile\":{\"name\":\"X\",\"phone\":\"+1 555 0100\"}}").getBytes(StandardCharsets.UTF_8)));
        out.add(new ProducerRecord<>(TOPIC, null, ("{\"request_id\":\"demo-bad-3\",\"identifier\":{\"type\":\"id\",\"value\":\"x@example.com\"},"
                + "\"regulation\":\"GDPR\",\"requested_at\":\"2026-11-28T10:00:00Z\",\"requested_by\":\"desk\"}").getBytes(StandardCharsets.UTF_8)));
        try (Producer<byte[], byte[]> producer = new KafkaClients(new Settings.Kafka(bootstrap, TOPIC, "demo"))
                .producer("demo-submit", Map.of())) {
            // The duplicate must come after the original: same key, same partition, sent in order.
            for (ProducerRecord<byte[], byte[]> r : out) {
                producer.send(r).get();
            }
        }
        return out.size();
    }

    private static void waitForOutcomes(HikariDataSource ds, int expected, Duration timeout) throws Exception {
        waitForRows(ds, "SELECT count(*) FROM audit_event WHERE step = 'OUTCOME'", expected, "outcomes recorded", timeout);
    }

    /** Waits until every COMPLETED request has its VERIFY row (the checks run after the erasures). */
    private static void waitForVerifications(HikariDataSource ds, Duration timeout) throws Exception {
        int erasures = count(ds, "SELECT count(*) FROM audit_event WHERE step = 'WORKSPACE' AND outcome = 'SUCCEEDED'");
        say("verifying through each workspace's App API that the %d erasures (person and workspace) took effect ...", erasures);
        waitForRows(ds, "SELECT count(*) FROM audit_event WHERE step = 'VERIFY'", erasures, "verified", timeout);
    }

    /** Waits until {@code countSql} reaches {@code expected}, printing progress. */
    private static void waitForRows(HikariDataSource ds, String countSql, int expected, String what, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        int last = -1;
        while (true) {
            int n = count(ds, countSql);
            if (n != last) {
                say("  %d/%d %s", n, expected, what);
                last = n;
            }
            if (n >= expected) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new Errors.UserError("demo timed out waiting: " + n + "/" + expected + " " + what, Errors.SOFTWARE);
            }
            Thread.sleep(250);
        }
    }

    /** A signed receipt of the first request, checked; then the chain against its signed checkpoint. */
    private static void showEvidence(HikariDataSource ds, SigningKey signing, Path checkpointDir) throws Exception {
        AuditQueries q = new AuditQueries(ds);
        byte[] receipt = Receipt.issue("demo-0000", q.history("demo-0000"), q.rowHashes("demo-0000"), signing, Instant.now());
        String text = new String(receipt, StandardCharsets.UTF_8).strip();
        say("%nsigned receipt of demo-0000 (audit receipt; Ed25519, %d bytes): %s…", receipt.length, text.substring(0, Math.min(150, text.length())));
        java.util.regex.Matcher verification = java.util.regex.Pattern.compile("\"verification\":\"([A-Z_]+)\"").matcher(text);
        say("  the receipt's verification (App API): %s", verification.find() ? verification.group(1) : "?");
        say("  receipt check (audit receipt --verify): %s", Receipt.verify(receipt, signing.publicKey()).meaning);
        int rows = count(ds, "SELECT count(*) FROM audit_event");
        Path latest = checkpointDir.resolve("checkpoint-demo-worker-" + rows + ".json");
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!Files.exists(latest) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        CheckpointCheck.Collector collected = new CheckpointCheck.Collector(signing.publicKey());
        collected.addFilesIn(checkpointDir);
        CheckpointCheck.Result r = collected.check(ds);
        say("  chain checkpoints (audit verify --checkpoint-dir): %d signed, up to row %d of %d: %s", r.checkpoints(), r.lastCovered(),
                r.tableEnd(), r.consistent() && r.lastCovered() == rows ? "checkpoints agree with the table" : "NOT AGREEING: " + r.findings());
    }

    private static void deleteTree(Path dir) {
        try (var all = Files.walk(dir)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException e) {
            // a temporary directory: the OS cleans it up eventually
        }
    }

    private static int count(HikariDataSource ds, String sql) throws SQLException {
        try (Connection c = ds.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static void printAuditTrail(HikariDataSource ds) throws SQLException {
        say("%naudit trail (audit_event, in chain order; subjects only as keyed hashes):");
        String fmt = "%4s  %-12s %-8s %-9s %-9s %-16s %5s %4s  %-14s %s%n";
        System.out.printf(fmt, "seq", "request_id", "type", "step", "workspace", "outcome", "http", "tries", "subject", "reason");
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT chain_seq, request_id, identifier_type, step, outcome, http_status, attempts,"
                     + " subject_hash, reason, workspace FROM audit_event ORDER BY chain_seq")) {
            while (rs.next()) {
                String subject = rs.getString(8);
                String reason = rs.getString(9);
                System.out.printf(fmt, rs.getLong(1), nz(rs.getString(2)), nz(rs.getString(3)), rs.getString(4), nz(rs.getString(10)),
                        rs.getString(5),
                        rs.getObject(6) == null ? "" : rs.getInt(6), rs.getObject(7) == null ? "" : rs.getInt(7),
                        subject == null ? "" : subject.substring(0, 12) + "…",
                        reason == null ? "" : reason.length() > 90 ? reason.substring(0, 90) + "…" : reason);
            }
        }
        summary(ds, "outcomes, one per Kafka record:", "  %-16s %4d%n",
                "SELECT outcome, count(*) FROM audit_event WHERE step = 'OUTCOME' GROUP BY outcome ORDER BY outcome");
        summary(ds, "erasures per workspace (WORKSPACE rows: the request's outcome in each workspace):", "  %-9s %-16s %4d%n",
                "SELECT workspace, outcome, count(*) FROM audit_event WHERE step = 'WORKSPACE' GROUP BY workspace, outcome"
                        + " ORDER BY workspace, outcome");
        summary(ds, "verification of the erased persons (App API of each workspace; VERIFY rows, attempts = checks made):",
                "  %-16s %4d  (at most %d checks)%n",
                "SELECT outcome, count(*), max(attempts) FROM audit_event WHERE step = 'VERIFY' GROUP BY outcome ORDER BY outcome");
        summary(ds, "requests by status (view erasure_request_status; a message without a valid request_id is no request):",
                "  %-16s %4d%s%n", // on time is said of erasures only (the view's on_time is null for the others)
                "SELECT status, count(*), CASE WHEN count(on_time) > 0 THEN '  (on time: ' || count(*) FILTER (WHERE on_time) || ')'"
                        + " ELSE '' END FROM erasure_request_status GROUP BY status ORDER BY status");
    }

    /** A titled table of a GROUP BY query: each row printed with {@code fmt} (its columns as they come). */
    private static void summary(HikariDataSource ds, String title, String fmt, String sql) throws SQLException {
        say("%n%s", title);
        try (Connection c = ds.getConnection(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            int columns = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                Object[] values = new Object[columns];
                for (int i = 0; i < columns; i++) {
                    values[i] = rs.getObject(i + 1) instanceof Number n ? (Object) n.intValue() : rs.getString(i + 1);
                }
                System.out.printf(fmt, values);
            }
        }
    }

    /** The asked-for port if it is free, else any free port (a second demo must not fail on it). */
    private static int freeOrAny(int port) {
        try (java.net.ServerSocket probe = new java.net.ServerSocket(port)) {
            return port;
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    private static String nz(String s) {
        return s == null ? "-" : s;
    }

    /**
     * Ctrl-C (or SIGTERM) while kept running: PostgreSQL and the broker stop at once, beside the
     * worker, whose connections then break. That is the stop asked for, not a fault, so the log
     * goes quiet first instead of printing the pool's stack traces.
     */
    private static void stopQuietly() {
        LoggerContext logs = (LoggerContext) LoggerFactory.getILoggerFactory();
        logs.getLoggerList().forEach(l -> l.setLevel(Level.OFF));
        say("stopping: the worker, the sandboxes, PostgreSQL and Kafka");
    }

    private static void say(String fmt, Object... args) {
        System.out.printf(fmt + "%n", args);
        System.out.flush();
    }

    private static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private interface ThrowingSupplier<T> {
        T get() throws Exception;
    }

    private static <T> T unchecked(ThrowingSupplier<T> s) {
        try {
            return s.get();
        } catch (Exception e) {
            throw new IllegalStateException("embedded PostgreSQL failed to start: " + e.getMessage(), e);
        }
    }
}
