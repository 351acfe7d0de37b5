package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/** The jar a deployment runs carries what a deployment runs: no embedded servers, no dev tools (DESIGN §3.4: ≤ 35 MB). */
public class ProductionJarIT {
    static final Path JAR = Path.of("app", "target", "cio-erasure.jar");
    /** A worker's settings against nothing (no broker, no database): it keeps trying, and serves its monitoring port meanwhile. */
    static final Map<String, String> WORKER_AGAINST_NOTHING = Map.of("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1",
            "DATABASE_URL", "jdbc:postgresql://127.0.0.1:1/none", "DATABASE_USER", "u", "DATABASE_PASSWORD", "p",
            "CUSTOMERIO_SITE_ID", "site", "CUSTOMERIO_TRACK_API_KEY", "key", "AUDIT_SUBJECT_KEY", "k".repeat(32), "METRICS_PORT", "0");

    @Test
    void theProductionJarIsSlimAndHoldsNoEmbeddedServerOrDevTool() throws Exception {
        assertThat(Files.size(JAR)).as("bytes").isLessThanOrEqualTo(35L * 1024 * 1024);
        List<String> production = entries(JAR);
        assertThat(production).contains("dev/cioerasure/cli/Main.class", "dev/cioerasure/worker/ErasureWorker.class",
                "org/apache/kafka/clients/consumer/KafkaConsumer.class", "db/migration/V6__group_rate_budget.sql");
        assertThat(production).noneMatch(ProductionJarIT::toolOrEmbeddedServer);
    }

    /**
     * The broker (Scala package kafka.*, raft, controller), embedded PostgreSQL, log4j, JUnit and
     * the dev tools. The tools module's ToolsJarIT shows this check finds them in its jar.
     */
    public static boolean toolOrEmbeddedServer(String n) {
        return n.startsWith("dev/cioerasure/tools/") || n.startsWith("dev/cioerasure/testkit/")
                || (n.startsWith("kafka/") && n.endsWith(".class")) || n.startsWith("org/apache/kafka/raft/") || n.startsWith("org/apache/kafka/controller/")
                || n.startsWith("scala/") || n.startsWith("io/zonky/") || n.startsWith("org/apache/logging/log4j/")
                || n.startsWith("org/junit/") || n.endsWith(".txz");
    }

    public static List<String> entries(Path jar) throws Exception {
        try (JarFile j = new JarFile(jar.toFile())) {
            return j.stream().map(e -> e.getName()).toList();
        }
    }

    @Test
    void theProductionJarRunsItsCommandsAndPointsToTheToolsJarForDevTools() throws Exception {
        Run help = java("--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("worker", "migrate", "submit", "audit", "intake").doesNotContain("bench ", "sandbox ");
        Run demo = java("demo");
        assertThat(demo.exit()).isEqualTo(2);
        assertThat(demo.out()).contains("'demo' is a dev tool", "cio-erasure-tools.jar demo");
    }

    /**
     * What an operator sees on start-up: the product's own lines, not logback's status report
     * (which logback prints in full as soon as its configuration raises a warning).
     */
    @Test
    void startingPrintsNoLogbackStatusInEitherLogFormat() throws Exception {
        for (String format : List.of("text", "json")) {
            List<String> lines = firstLinesOfAWorker(Map.of("LOG_FORMAT", format));
            assertThat(lines).as(format).noneMatch(l -> l.contains("ch.qos.logback") || l.contains("|-INFO") || l.contains("|-WARN"));
            String configuration = lines.get(lines.size() - 1);
            if (format.equals("json")) {
                assertThat(configuration).startsWith("{").contains("\"level\":\"INFO\"");
            } else {
                assertThat(configuration).matches("\\d{4}-\\d\\d-\\d\\dT.* INFO .*effective configuration:.*");
            }
        }
    }

    /**
     * What an operator sees when a command cannot start, from the jar itself (its logback
     * configuration, its real standard error): one line naming the setting and the cause. The
     * Kafka client once added its own WARN line for a bootstrap host that does not resolve.
     */
    @Test
    void aCommandThatCannotStartPrintsOneLineFromTheJar() throws Exception {
        Run unresolvable = javaJar(JAR, Map.of("KAFKA_BOOTSTRAP_SERVERS", "no-such-host.invalid:9092"), "parked");
        assertThat(unresolvable.exit()).as(unresolvable.out()).isEqualTo(78);
        assertThat(unresolvable.out().strip().lines()).as(unresolvable.out())
                .containsExactly("cio-erasure: KAFKA_BOOTSTRAP_SERVERS: no resolvable broker address in 'no-such-host.invalid:9092'");
    }

    /**
     * A bulk purge: a file of 200,000 requests is checked in a 64 MB heap (it is read row by row;
     * held whole, it needed about 300 MB), and a heap too small for even that says so in one line,
     * exit 70, instead of a stack trace.
     */
    @Test
    void aLargeRequestFileIsCheckedInASmallHeapAndRunningOutOfMemoryIsOneLine(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path file = dir.resolve("purge.csv");
        try (java.io.Writer w = Files.newBufferedWriter(file)) {
            w.write("identifier_type,identifier,regulation,requested_by\n");
            for (int i = 0; i < 200_000; i++) {
                w.write("email,person" + i + "@example.com,GDPR,retention-purge-2026\n");
            }
        }
        Map<String, String> env = Map.of("KAFKA_BOOTSTRAP_SERVERS", "localhost:1", "AUDIT_SUBJECT_KEY", "0123456789abcdef0123");
        Run fits = javaJar(JAR, env, List.of("-Xmx64m"), "submit", "--file", file.toString(), "--dry-run");
        assertThat(fits.exit()).as(fits.out()).isZero();
        assertThat(fits.out()).contains("200000 request(s) valid; nothing sent (--dry-run)");

        Run tooSmall = javaJar(JAR, env, List.of("-Xmx12m"), "submit", "--file", file.toString(), "--dry-run");
        assertThat(tooSmall.exit()).as(tooSmall.out()).isEqualTo(70);
        // after the check's progress lines (a slow check in a heap that small), one line and no stack trace
        assertThat(tooSmall.out().strip().lines().filter(l -> !l.contains("bytes checked"))).as(tooSmall.out())
                .containsExactly("cio-erasure: out of memory (this JVM may use at most 12 MB): give it more with java -Xmx…");
    }

    /**
     * DATABASE_URL pointing at something that is not PostgreSQL (here an HTTP server, as a wrong
     * port may): a wrong setting (78), said as such. pgjdbc reports it as a failed TLS set-up
     * (sslmode=prefer, the default) or session set-up, which once read "TLS to PostgreSQL … failed".
     */
    @Test
    void aDatabaseUrlAtSomethingElseThanPostgresIsAWrongSetting() throws Exception {
        try (java.net.ServerSocket http = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                while (!http.isClosed()) {
                    try (java.net.Socket s = http.accept()) {
                        s.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    } catch (java.io.IOException closed) {
                        return;
                    }
                }
            }, "not-postgres");
            server.setDaemon(true);
            server.start();
            for (String options : List.of("", "?sslmode=disable")) {
                String where = "127.0.0.1:" + http.getLocalPort();
                Run r = javaJar(JAR, Map.of("DATABASE_URL", "jdbc:postgresql://" + where + "/erasure" + options, "DATABASE_USER", "u",
                        "DATABASE_PASSWORD", "p"), "audit", "verify");
                assertThat(r.exit()).as(r.out()).isEqualTo(78);
                assertThat(r.out().strip().lines()).as(r.out()).containsExactly("cio-erasure: DATABASE_URL: what answers at " + where
                        + " is not PostgreSQL (SQLState 08P01 protocol_violation: is the host or the port wrong?)");
            }
        }
    }

    /**
     * A worker whose broker does not answer waits for it up to 10 s before it starts anyway; its
     * monitoring port answers from the start, saying what it waits for, so a probe or a scrape in
     * those seconds is not a refused connection (it was: the port was bound after the wait).
     */
    @Test
    void aWorkerWaitingForKafkaAtStartUpAlreadyAnswersItsProbesAndSaysWhatItWaitsFor() throws Exception {
        Path log = Files.createTempFile("waiting-worker", ".log");
        long t0 = System.nanoTime();
        Process worker = SlowClientsIT.start(WORKER_AGAINST_NOTHING, log, "worker");
        try {
            int port = SlowClientsIT.boundPort(worker, log, SlowClientsIT.WORKER_PORT);
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            java.net.http.HttpResponse<String> ready = http.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://localhost:" + port + "/health/ready")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - t0)).as("within the 10 s wait for Kafka")
                    .isLessThan(java.time.Duration.ofSeconds(10));
            assertThat(ready.statusCode()).isEqualTo(503);
            assertThat(ready.body()).contains("starting: waiting for Kafka at 127.0.0.1:1");
            java.net.http.HttpResponse<String> metrics = http.send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://localhost:" + port + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("jvm_").containsPattern("(?m)^erasure_ready\\{[^}]*\\} 0\\.0$");
        } finally {
            worker.destroyForcibly().waitFor();
        }
    }

    /**
     * SIGTERM while the worker still starts (here: its 10 s wait for a broker that does not
     * answer) is a clean stop like any other: exit 0 at once. It was 143, the JVM's code for a
     * signal, because the shutdown hook was only registered once start-up was over.
     */
    @Test
    void sigtermDuringStartUpIsACleanStop() throws Exception {
        Path log = Files.createTempFile("stopped-while-starting", ".log");
        Process worker = SlowClientsIT.start(WORKER_AGAINST_NOTHING, log, "worker");
        try {
            SlowClientsIT.boundPort(worker, log, SlowClientsIT.WORKER_PORT);
            assertThat(Files.readString(log)).doesNotContain("worker consuming");
            worker.destroy(); // SIGTERM
            assertThat(worker.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).as("stopped within 5 s").isTrue();
            assertThat(worker.exitValue()).as(Files.readString(log)).isZero();
            assertThat(Files.readString(log)).contains("shutdown requested", "stopped during start-up: no record had been taken");
        } finally {
            worker.destroyForcibly().waitFor();
        }
        // and the hook, there from the start, leaves a failed start-up its own exit code (it made a busy port's 78 a 0)
        try (java.net.ServerSocket busy = new java.net.ServerSocket(0)) {
            Map<String, String> env = new java.util.HashMap<>(WORKER_AGAINST_NOTHING);
            env.put("METRICS_PORT", Integer.toString(busy.getLocalPort()));
            Run refused = javaJar(JAR, env, "worker");
            assertThat(refused.exit()).as(refused.out()).isEqualTo(78);
            assertThat(refused.out()).contains("METRICS_PORT: port " + busy.getLocalPort() + " is already in use")
                    .doesNotContain("stopped during start-up");
        }
    }

    /**
     * The intake waits up to 15 s for Kafka before it serves: a SIGTERM then is a clean stop (exit
     * 0; it was 143), while a wait that runs out keeps its own exit code (69), which the shutdown
     * hook that makes the first possible must not turn into 0.
     */
    @Test
    void theIntakeStoppedWhileItWaitsForKafkaExitsZeroAndAWaitThatRunsOutStays69() throws Exception {
        Map<String, String> env = Map.of("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1", "AUDIT_SUBJECT_KEY", "k".repeat(32),
                "ERASURE_WEBHOOK_SECRET", "s".repeat(32));
        Path stoppedLog = Files.createTempFile("intake-stopped", ".log");
        Path waitedLog = Files.createTempFile("intake-waited", ".log");
        Process stopped = SlowClientsIT.start(env, stoppedLog, "intake", "--port", "0");
        Process waited = SlowClientsIT.start(env, waitedLog, "intake", "--port", "0");
        try {
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                    .until(() -> Files.readString(stoppedLog).contains("effective configuration"));
            stopped.destroy(); // SIGTERM
            assertThat(stopped.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(stopped.exitValue()).as(Files.readString(stoppedLog)).isZero();
            assertThat(waited.waitFor(40, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(waited.exitValue()).as(Files.readString(waitedLog)).isEqualTo(69);
            assertThat(Files.readString(waitedLog)).contains("KAFKA_BOOTSTRAP_SERVERS: no Kafka broker at 127.0.0.1:1");
        } finally {
            stopped.destroyForcibly().waitFor();
            waited.destroyForcibly().waitFor();
        }
    }

    /** Starts a worker (against nothing: it would keep trying) and returns its output up to its configuration line. */
    private static List<String> firstLinesOfAWorker(Map<String, String> extraEnv) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                JAR.toString(), "worker").redirectErrorStream(true);
        builder.environment().putAll(WORKER_AGAINST_NOTHING);
        builder.environment().putAll(extraEnv);
        Process p = builder.start();
        List<String> lines = new java.util.ArrayList<>();
        try (java.io.BufferedReader out = p.inputReader(StandardCharsets.UTF_8)) {
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                if (line.contains("effective configuration")) {
                    return lines;
                }
            }
        } finally {
            p.destroyForcibly().waitFor();
        }
        throw new AssertionError("the worker printed no configuration line: " + lines);
    }

    public record Run(int exit, String out) { }

    private static Run java(String... args) throws Exception {
        return javaJar(JAR, args);
    }

    public static Run javaJar(Path jar, String... args) throws Exception {
        return javaJar(jar, Map.of(), args);
    }

    public static Run javaJar(Path jar, Map<String, String> env, String... args) throws Exception {
        return javaJar(jar, env, List.of(), args);
    }

    public static Run javaJar(Path jar, Map<String, String> env, List<String> jvmOptions, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }
}
