package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.cli.ProductionJarIT;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The tools jar: every production command plus demo, sandbox and bench, with what they embed. */
class ToolsJarIT {
    private static final Path JAR = Path.of("tools", "target", "cio-erasure-tools.jar");

    @Test
    void theToolsJarCarriesTheDevToolsAndTheEmbeddedServers() throws Exception {
        // the very check the production jar passes finds them here, so it can fail
        assertThat(ProductionJarIT.entries(JAR)).filteredOn(ProductionJarIT::toolOrEmbeddedServer)
                .contains("dev/cioerasure/testkit/embedded/kafka-test-broker.jar").anyMatch(n -> n.startsWith("io/zonky/"))
                .anyMatch(n -> n.startsWith("dev/cioerasure/testkit/sandbox/")).anyMatch(n -> n.startsWith("dev/cioerasure/tools/bench/"));
    }

    @Test
    void theBrokerStaysInItsOwnJarSoTheToolsRunTheProductsKafkaClient() throws Exception {
        // the broker (4.3.1) runs from the nested jar in a JVM of its own; none of its classes, nor
        // a second kafka-clients, sits beside the product's client (4.4.0) in this jar
        assertThat(ProductionJarIT.entries(JAR)).noneMatch(n -> n.startsWith("kafka/server/") || n.startsWith("org/apache/kafka/raft/")
                || n.startsWith("org/apache/kafka/common/test/"));
        assertThat(kafkaClientVersion(JAR)).isEqualTo(kafkaClientVersion(Path.of("app", "target", "cio-erasure.jar")))
                .isNotEqualTo("4.3.1");
    }

    private static String kafkaClientVersion(Path jarFile) throws Exception {
        try (java.util.jar.JarFile jar = new java.util.jar.JarFile(jarFile.toFile())) {
            java.util.Properties version = new java.util.Properties();
            version.load(jar.getInputStream(jar.getEntry("kafka/kafka-version.properties")));
            return version.getProperty("version");
        }
    }

    /**
     * README: {@code demo --keep-running} stays up until Ctrl-C. Stopped (SIGTERM, what Ctrl-C
     * does to the JVM), it says so and exits with its broker and PostgreSQL, without the
     * connection pool's stack traces that the stop itself once caused.
     */
    @Test
    void theDemoKeptRunningStopsQuietlyAndTakesItsServersWithIt() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                JAR.toString(), "demo", "--keep-running", "--metrics-port", "0").redirectErrorStream(true);
        Process demo = builder.start();
        StringBuilder out = new StringBuilder();
        try (java.io.BufferedReader lines = demo.inputReader(java.nio.charset.StandardCharsets.UTF_8)) {
            String line;
            while ((line = lines.readLine()) != null && !line.contains("still running")) {
                out.append(line).append('\n');
            }
            assertThat(line).as(out.toString()).isNotNull();
            java.util.List<ProcessHandle> servers = demo.descendants().toList();
            assertThat(servers).as("the broker's JVM and PostgreSQL").isNotEmpty();
            Thread.sleep(2_000); // the worker's background work (lease renewals, look-ups) goes on meanwhile
            // SIGTERM by kill: Process.destroy() would also close the output still to be read
            assertThat(new ProcessBuilder("kill", "-TERM", Long.toString(demo.pid())).start().waitFor()).isZero();
            StringBuilder stop = new StringBuilder();
            while ((line = lines.readLine()) != null) {
                stop.append(line).append('\n');
            }
            assertThat(demo.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(stop.toString()).contains("stopping: the worker, the sandboxes, PostgreSQL and Kafka")
                    .doesNotContain("\tat ", "Exception", "WARN", "ERROR");
            for (ProcessHandle server : servers) {
                server.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
                assertThat(server.isAlive()).as(server.info().command().orElse("?")).isFalse();
            }
            // PostgreSQL runs detached from the demo's process tree (pg_ctl): it is gone once its port refuses
            java.util.regex.Matcher port = java.util.regex.Pattern.compile("PostgreSQL on port (\\d+)").matcher(out);
            assertThat(port.find()).as(out.toString()).isTrue();
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            boolean refused = false;
            while (!refused && System.nanoTime() < deadline) {
                try (java.net.Socket probe = new java.net.Socket("127.0.0.1", Integer.parseInt(port.group(1)))) {
                    Thread.sleep(200);
                } catch (java.net.ConnectException gone) {
                    refused = true;
                }
            }
            assertThat(refused).as("PostgreSQL still listens on port " + port.group(1)).isTrue();
        } finally {
            demo.destroyForcibly();
        }
    }

    @Test
    void theToolsJarListsTheDevToolsNextToTheProductionCommands() throws Exception {
        ProductionJarIT.Run help = ProductionJarIT.javaJar(JAR, "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("demo", "sandbox", "bench", "worker", "migrate", "audit");
        ProductionJarIT.Run sandbox = ProductionJarIT.javaJar(JAR, "sandbox", "--error-rate", "2");
        assertThat(sandbox.exit()).isEqualTo(2);
        assertThat(sandbox.out()).contains("--error-rate must be 0..1");
        ProductionJarIT.Run model = ProductionJarIT.javaJar(JAR, "sandbox", "--limit-model", "leaky");
        assertThat(model.exit()).isEqualTo(2);
        assertThat(model.out()).contains("--limit-model must be sliding-window or token-bucket");
        ProductionJarIT.Run shortBatch = ProductionJarIT.javaJar(JAR, "bench", "--batch-requests", "0");
        assertThat(shortBatch.exit()).isEqualTo(2);
        assertThat(shortBatch.out()).contains("--batch-requests must be at least 10000 (got 0)");
        ProductionJarIT.Run shortRuns = ProductionJarIT.javaJar(JAR, "bench", "--seconds", "-1");
        assertThat(shortRuns.exit()).isEqualTo(2);
        assertThat(shortRuns.out()).contains("--seconds must be at least 10 (got -1)");
    }

    /**
     * The sandbox docker compose runs counts its limit as strictly as a server may (it was a token
     * bucket, which forgives what Customer.io need not): 5 calls, then one 300 ms later, at a
     * limit of 5/s. A strict window refuses the sixth; a token bucket has refilled and takes it.
     */
    @Test
    void theSandboxCountsItsLimitInAStrictWindowUnlessToldOtherwise() throws Exception {
        assertThat(sixthCallAfter300ms()).as("default: sliding window").isEqualTo(429);
        assertThat(sixthCallAfter300ms("--limit-model", "token-bucket")).as("token bucket").isEqualTo(200);
    }

    private static int sixthCallAfter300ms(String... more) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString(),
                "sandbox", "--port", "0", "--bind", "127.0.0.1", "--latency-ms", "0", "--limit", "5"));
        command.addAll(java.util.List.of(more));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(java.util.Map.of("CUSTOMERIO_SITE_ID", "site", "CUSTOMERIO_TRACK_API_KEY", "key"));
        Process p = pb.start();
        try {
            String first = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8)).readLine();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("on 127\\.0\\.0\\.1:(\\d+) ").matcher(String.valueOf(first));
            assertThat(m.find()).as(first).isTrue();
            assertThat(first).contains("counted as a " + (more.length == 0 ? "sliding-window" : "token-bucket"));
            java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
            java.net.http.HttpRequest call = java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + m.group(1) + "/api/v1/customers/p-1"))
                    .header("Authorization", "Basic " + java.util.Base64.getEncoder().encodeToString("site:key".getBytes()))
                    .DELETE().build();
            // a refused login is not counted: it warms the client up, so the five calls below take milliseconds
            java.net.http.HttpRequest wrongKey = java.net.http.HttpRequest.newBuilder(call.uri())
                    .header("Authorization", "Basic " + java.util.Base64.getEncoder().encodeToString("site:wrong".getBytes())).DELETE().build();
            assertThat(http.send(wrongKey, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(401);
            long firstCall = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                assertThat(http.send(call, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
            }
            Thread.sleep(300);
            int sixth = http.send(call, java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
            assertThat(java.time.Duration.ofNanos(System.nanoTime() - firstCall)).as("all six within one second")
                    .isLessThan(java.time.Duration.ofMillis(900));
            return sixth;
        } finally {
            p.destroyForcibly().waitFor();
        }
    }
}
