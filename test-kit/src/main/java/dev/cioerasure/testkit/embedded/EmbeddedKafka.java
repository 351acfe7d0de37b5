package dev.cioerasure.testkit.embedded;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * A real single-node Kafka (KRaft, combined broker+controller) from {@code kafka-test-common-runtime},
 * in a JVM of its own (the {@code test-broker} module's jar, carried by this kit as a resource).
 * For {@code demo}, benchmarks and integration tests.
 *
 * <p>Why a process: the broker's Kafka version (4.3.1, the newest whose test kit is published)
 * then never shares a classpath with the product's newer client; they meet over the wire only, as
 * in a deployment. The broker stops when {@link #close} is called or this JVM ends, even when it
 * is killed (its standard input closes).
 */
public final class EmbeddedKafka implements AutoCloseable {
    /** The user a SASL broker ({@link #startSasl}) knows, with all rights (PLAIN): the kit's admin. */
    public static final String SASL_USER = "plain-admin";
    public static final String SASL_PASSWORD = "plain-admin-secret";
    private static final String BROKER_JAR = "kafka-test-broker.jar";
    private static final long START_TIMEOUT_SECONDS = 120;

    private final Process process;
    private final String bootstrapServers;
    private final boolean sasl;

    private EmbeddedKafka(Process process, String bootstrapServers, boolean sasl) {
        this.process = process;
        this.bootstrapServers = bootstrapServers;
        this.sasl = sasl;
    }

    /** A plaintext broker. */
    public static EmbeddedKafka start() throws Exception {
        return start(false);
    }

    /**
     * A broker whose listener requires SASL/PLAIN (user {@link #SASL_USER}) and whose authorizer
     * denies everyone else. Clients pass their own {@code sasl.jaas.config}.
     */
    public static EmbeddedKafka startSasl() throws Exception {
        return start(true);
    }

    private static EmbeddedKafka start(boolean sasl) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx512m", "-jar",
                brokerJar().toString(), sasl ? "sasl" : "plaintext")
                .redirectErrorStream(true)
                .start();
        Deque<String> output = new ArrayDeque<>();
        CompletableFuture<String> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> readOutput(p.getInputStream(), output, ready), "embedded-kafka-output");
        reader.setDaemon(true);
        reader.start();
        try {
            String bootstrap = ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            Runtime.getRuntime().addShutdownHook(new Thread(p::destroy, "embedded-kafka-stop"));
            return new EmbeddedKafka(p, bootstrap, sasl);
        } catch (ExecutionException | TimeoutException e) {
            p.destroyForcibly();
            String why = e instanceof ExecutionException ? e.getCause().getMessage() : "not ready within " + START_TIMEOUT_SECONDS + " s";
            synchronized (output) {
                throw new IllegalStateException("embedded Kafka did not start: " + why + "; its last output: " + String.join(" | ", output));
            }
        }
    }

    /** Waits for the broker's {@code BOOTSTRAP} line; keeps its last lines for an error message, and drains the rest. */
    private static void readOutput(InputStream in, Deque<String> last, CompletableFuture<String> ready) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.startsWith("BOOTSTRAP ")) {
                    ready.complete(line.substring("BOOTSTRAP ".length()).strip());
                } else if (line.startsWith("FAILED ")) {
                    ready.completeExceptionally(new IllegalStateException(line.substring("FAILED ".length())));
                }
                synchronized (last) {
                    last.addLast(line);
                    if (last.size() > 20) {
                        last.removeFirst();
                    }
                }
            }
        } catch (IOException ignored) {
            // the broker is gone
        }
        ready.completeExceptionally(new IllegalStateException("the broker process ended"));
    }

    /**
     * The broker's jar: the file itself when this kit is a directory (a Maven build), else a copy
     * out of the jar that carries it, in the temporary directory under a name made of its digest,
     * so runs share one copy and a killed run leaves no new one behind. Found (or copied) once
     * per JVM: a benchmark or a test run may start several brokers.
     */
    private static synchronized Path brokerJar() throws IOException {
        if (brokerJar == null) {
            brokerJar = findOrCopyBrokerJar();
        }
        return brokerJar;
    }

    private static Path brokerJar;

    private static Path findOrCopyBrokerJar() throws IOException {
        java.net.URL url = EmbeddedKafka.class.getResource(BROKER_JAR);
        if (url == null) {
            throw new IllegalStateException(BROKER_JAR + " is missing from the test kit (the test-broker module builds it)");
        }
        if (url.getProtocol().equals("file")) {
            try {
                return Path.of(url.toURI());
            } catch (java.net.URISyntaxException e) {
                throw new IOException(e);
            }
        }
        Path tmp = Files.createTempFile("cio-erasure-test-broker", ".part");
        try {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            try (InputStream in = new java.security.DigestInputStream(url.openStream(), sha)) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            Path jar = tmp.resolveSibling("cio-erasure-test-broker-" + java.util.HexFormat.of().formatHex(sha.digest(), 0, 8) + ".jar");
            if (!Files.exists(jar)) {
                Files.move(tmp, jar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                deleteOtherCopies(jar);
            }
            return jar;
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Copies from other builds (a broker still running from one keeps its open file). */
    private static void deleteOtherCopies(Path keep) {
        try (var others = Files.newDirectoryStream(keep.getParent(), "cio-erasure-test-broker-*.jar")) {
            for (Path other : others) {
                if (!other.equals(keep)) {
                    Files.deleteIfExists(other);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // another JVM's, still open where files cannot be deleted: the next run tries again
        }
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** What a client needs besides the bootstrap servers: the SASL login on a SASL broker, nothing otherwise. */
    public Map<String, Object> clientProperties() {
        if (!sasl) {
            return Map.of();
        }
        return Map.of("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN", "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + SASL_USER
                        + "\" password=\"" + SASL_PASSWORD + "\";");
    }

    /**
     * Creates the topics (if missing) with the given number of partitions, and returns once the
     * broker's metadata shows every one of them: a topic the controller has created may not yet
     * be known to the broker that answers the next client's describe (a worker started at once
     * then refused to start, "topic ... does not exist", in one CI run).
     */
    public void createTopics(int partitions, String... names) throws InterruptedException, ExecutionException {
        create(java.util.Arrays.stream(names).map(n -> new NewTopic(n, partitions, (short) 1)).toList());
    }

    /** One topic with topic-level settings (e.g. {@code max.message.bytes}), as {@link #createTopics} makes them. */
    public void createTopic(String name, int partitions, Map<String, String> configs) throws InterruptedException, ExecutionException {
        create(List.of(new NewTopic(name, partitions, (short) 1).configs(configs)));
    }

    private void create(List<NewTopic> topics) throws InterruptedException, ExecutionException {
        Map<String, Object> p = new java.util.HashMap<>(clientProperties());
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        List<String> names = topics.stream().map(NewTopic::name).toList();
        try (Admin admin = Admin.create(p)) {
            Set<String> existing = admin.listTopics().names().get();
            List<NewTopic> missing = topics.stream().filter(t -> !existing.contains(t.name())).toList();
            try {
                admin.createTopics(missing).all().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
            awaitKnown(admin, names);
        }
    }

    private static void awaitKnown(Admin admin, List<String> names) throws InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                admin.describeTopics(names).allTopicNames().get();
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)
                        || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    /** Stops the broker (it deletes its directories) and waits for its process to end. */
    @Override
    public void close() throws Exception {
        try (OutputStream in = process.getOutputStream()) {
            in.write("stop\n".getBytes(StandardCharsets.UTF_8));
        } catch (IOException ignored) {
            // already gone
        }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
