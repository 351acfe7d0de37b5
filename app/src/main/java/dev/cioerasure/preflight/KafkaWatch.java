package dev.cioerasure.preflight;

import dev.cioerasure.config.Settings;
import dev.cioerasure.threads.DaemonThreads;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks Kafka every {@code every} whether it answers, the topic exists and this client may write
 * to it (the same check as at start-up, {@link Preflight#kafkaWrite}), for a readiness endpoint.
 * Logs a change once, not every check.
 */
public final class KafkaWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KafkaWatch.class);

    private final Settings.Kafka kafka;
    private final Duration timeout;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("kafka-watch"));
    private volatile Optional<String> problem = Optional.of("checking Kafka");

    public KafkaWatch(Settings.Kafka kafka, Duration every, Duration timeout) {
        this.kafka = kafka;
        this.timeout = timeout;
        dev.cioerasure.threads.Repeating.every(timer, "the check of Kafka", this::check, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Why Kafka cannot take requests now (no secret, no personal data); empty when it can. */
    public Optional<String> problem() {
        return problem;
    }

    private void check() {
        Optional<String> now;
        try {
            Preflight.kafkaWrite(kafka, timeout, List.of(kafka.topic()), "ERASURE_TOPIC");
            now = Optional.empty();
        } catch (ServiceProblem p) {
            now = Optional.of(p.getMessage());
        } catch (RuntimeException e) {
            now = Optional.of("Kafka check failed: " + e.getClass().getSimpleName());
        }
        Optional<String> before = problem;
        problem = now;
        if (now.isPresent() && !now.equals(before)) {
            log.warn("{}; not ready (signed requests are answered 503 meanwhile)", now.get());
        } else if (now.isEmpty() && before.isPresent() && !before.get().equals("checking Kafka")) {
            log.info("Kafka takes requests again; ready");
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
