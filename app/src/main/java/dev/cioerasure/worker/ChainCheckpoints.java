package dev.cioerasure.worker;

import dev.cioerasure.config.Settings;
import dev.cioerasure.evidence.Checkpoint;
import dev.cioerasure.evidence.SigningKey;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.preflight.Preflight;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a signed checkpoint of the audit chain's head (last row and its hash) whenever it
 * has moved, every {@code AUDIT_CHECKPOINT_EVERY} and once more on shutdown: to a compacted
 * Kafka topic (keyed by worker instance, so each instance's latest stays) and/or a directory.
 * {@code audit verify --checkpoints} compares the table with them.
 */
final class ChainCheckpoints {
    private static final Logger log = LoggerFactory.getLogger(ChainCheckpoints.class);

    private final Settings.Checkpoints settings;
    private final SigningKey key;
    private final DataSource dataSource;
    private final Producer<byte[], byte[]> producer;
    private final String worker;
    private final Clock clock;
    private final MeterRegistry meters;
    private long published = -1;
    private boolean failing;

    ChainCheckpoints(Settings.Checkpoints settings, SigningKey key, DataSource dataSource, Producer<byte[], byte[]> producer,
                     String worker, MeterRegistry meters, Clock clock) {
        this.settings = settings;
        this.key = key;
        this.dataSource = dataSource;
        this.producer = producer;
        this.worker = worker;
        this.meters = meters;
        this.clock = clock;
    }

    /**
     * The counters at 0 from the start, also when checkpoints are off (so alert rules see the
     * series); the assembly calls it for every worker.
     */
    static void registerMeters(MeterRegistry meters) {
        for (String where : new String[] {"kafka", "directory"}) {
            for (String result : new String[] {"ok", "failed"}) {
                counter(meters, where, result);
            }
        }
    }

    java.time.Duration every() {
        return settings.every();
    }

    /** Publishes the head if it moved since the last checkpoint; never throws (logs once per failure spell). */
    synchronized void publish() {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT chain_seq, row_hash FROM audit_event ORDER BY chain_seq DESC LIMIT 1")) {
            if (!rs.next() || rs.getLong(1) == published) {
                return;
            }
            Checkpoint cp = new Checkpoint(rs.getLong(1), rs.getString(2), clock.instant(), worker);
            byte[] signed = cp.signed(key);
            boolean ok = true;
            if (settings.topic() != null) {
                ok &= attempt("kafka", () -> producer.send(new ProducerRecord<>(settings.topic(), worker.getBytes(StandardCharsets.UTF_8),
                        signed)).get(10, TimeUnit.SECONDS));
            }
            if (settings.directory() != null) {
                ok &= attempt("directory", () -> {
                    Path target = settings.directory().resolve("checkpoint-" + worker + "-" + cp.chainSeq() + ".json");
                    Path tmp = settings.directory().resolve("." + target.getFileName() + ".tmp");
                    Files.write(tmp, signed);
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                    return null;
                });
            }
            if (ok) {
                published = cp.chainSeq();
                if (failing) {
                    log.info("audit chain checkpoints published again (row {})", cp.chainSeq());
                }
                failing = false;
            }
        } catch (Exception e) {
            fail("database", e);
        }
    }

    private interface Step {
        Object run() throws Exception;
    }

    private boolean attempt(String where, Step step) {
        try {
            step.run();
            counter(where, "ok").increment();
            return true;
        } catch (Exception e) {
            counter(where, "failed").increment();
            fail(where, e);
            return false;
        }
    }

    private void fail(String where, Exception e) {
        if (!failing) {
            // "to the audit table" said the opposite of what failed: reading the chain's head from it
            String what = where.equals("kafka") ? "publish an audit chain checkpoint to topic " + settings.topic() + " (AUDIT_CHECKPOINT_TOPIC)"
                    : where.equals("directory") ? "publish an audit chain checkpoint to AUDIT_CHECKPOINT_DIR"
                    : "read the audit chain's head for a checkpoint from PostgreSQL";
            log.warn("cannot {} ({}); retrying every {} s", what, e instanceof IOException ? "I/O error" : Preflight.rootName(e),
                    settings.every().toSeconds());
        }
        failing = true;
    }

    private Counter counter(String where, String result) {
        return counter(meters, where, result);
    }

    private static Counter counter(MeterRegistry meters, String where, String result) {
        return Counter.builder(MetricNames.AUDIT_CHECKPOINTS)
                .description("Signed checkpoints of the audit chain published, by where and result")
                .tag("where", where).tag("result", result).register(meters);
    }
}
