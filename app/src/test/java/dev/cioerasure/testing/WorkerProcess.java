package dev.cioerasure.testing;

import dev.cioerasure.config.Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** A worker as a separate JVM (from the packaged jar when there is one), to be killed for real. */
public final class WorkerProcess {
    private WorkerProcess() { }

    /**
     * Starts {@code worker} with the harness's Kafka, topic, group and database, the given Track
     * URL and rate, and the harness's keys; {@code more} adds or overrides settings.
     */
    public static Process start(Settings s, String trackUrl, int ratePerSecond, Map<String, String> more, Path log) throws Exception {
        Path jar = Path.of("app", "target", "cio-erasure.jar");
        String cp = Files.exists(jar) ? jar.toString() : System.getProperty("java.class.path");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", cp, "dev.cioerasure.cli.Main", "worker");
        Map<String, String> env = pb.environment();
        env.put("KAFKA_BOOTSTRAP_SERVERS", s.kafka().bootstrapServers());
        env.put("ERASURE_TOPIC", s.kafka().topic());
        env.put("ERASURE_GROUP_ID", s.kafka().groupId());
        env.put("ERASURE_OUTCOMES_TOPIC", s.kafka().outcomesTopic() == null ? "none" : s.kafka().outcomesTopic());
        env.put("DATABASE_URL", s.database().url());
        env.put("DATABASE_USER", s.database().user());
        env.put("DATABASE_PASSWORD", s.database().password().reveal());
        env.put("CUSTOMERIO_SITE_ID", WorkerHarness.SITE_ID);
        env.put("CUSTOMERIO_TRACK_API_KEY", WorkerHarness.API_KEY);
        env.put("CUSTOMERIO_TRACK_URL", trackUrl);
        env.put("CUSTOMERIO_RATE_LIMIT_PER_SECOND", Integer.toString(ratePerSecond));
        env.put("AUDIT_SUBJECT_KEY", WorkerHarness.AUDIT_KEY);
        env.put("METRICS_PORT", "0");
        env.putAll(more);
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        return pb.start();
    }
}
