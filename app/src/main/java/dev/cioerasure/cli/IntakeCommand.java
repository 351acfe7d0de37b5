package dev.cioerasure.cli;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.intake.IntakeServer;
import dev.cioerasure.metrics.HttpServerLimits;
import dev.cioerasure.metrics.Metrics;
import dev.cioerasure.metrics.MetricsServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "intake", mixinStandardHelpOptions = true,
        description = {"Run the signed HTTP intake that publishes deletion requests to ERASURE_TOPIC.",
                "POST /v1/requests (the request message) and POST /v1/webhooks/customerio (a Customer.io webhook"
                        + " action), verified with X-CIO-Timestamp and X-CIO-Signature against ERASURE_WEBHOOK_SECRET (and"
                        + " ERASURE_WEBHOOK_SECRET_PREVIOUS during a rotation), published to ERASURE_TOPIC. Also serves /metrics"
                        + " and /health/* on the same port, or with --metrics-port on that port only."})
final class IntakeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(IntakeCommand.class);

    @Option(names = "--port", description = "HTTP port (default: ${DEFAULT-VALUE}).", defaultValue = "8080")
    int port;

    @Option(names = "--metrics-port", paramLabel = "PORT", description = "Serve /metrics and /health/* on this port instead"
            + " of --port, which then answers only the two POST endpoints (404 for anything else): the intake's port can face"
            + " senders while monitoring stays inside the cluster.")
    Integer metricsPort;

    @Override
    public Integer call() throws Exception {
        // The arguments first: a wrong one is exit 2 at once, not after the settings or a 15 s wait for Kafka.
        if (port < 0 || port > 65535) {
            throw new Errors.UserError("--port must be a port (1-65535; 0: any free one)", 2);
        }
        if (metricsPort != null && (metricsPort < 1 || metricsPort > 65535 || metricsPort == port)) {
            throw new Errors.UserError("--metrics-port must be a port (1-65535) other than --port", 2);
        }
        HttpServerLimits.install(); // before any HTTP server is made: it reads them once
        Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.KAFKA, SettingsLoader.Part.AUDIT,
                SettingsLoader.Part.WEBHOOK));
        // The hook first: a SIGTERM during the wait for Kafka (up to 15 s) is a clean stop too (it
        // was exit 143); once the servers run it stops them. Before the configuration line, the first
        // sign of life: a SIGTERM sent on seeing it found no hook yet, and the hook's registration
        // then failed ("Shutdown in progress", exit 143).
        CleanStop hook = new CleanStop(() -> { });
        log.info(s.describe());
        Runnable stopServers;
        try {
            stopServers = start(s);
        } catch (RuntimeException e) {
            hook.failed(); // the exit that follows keeps this one's code (78, 69)
            throw e;
        }
        hook.start(() -> { }, stopServers);
        new CountDownLatch(1).await(); // until the hook halts the JVM
        return 0;
    }

    /** Checks Kafka and starts the servers; returns what stops them. */
    private Runnable start(Settings s) {
        Preflight.kafkaWrite(s.kafka(), java.time.Duration.ofSeconds(15), java.util.List.of(s.kafka().topic()), "ERASURE_TOPIC");
        PrometheusMeterRegistry meters = Metrics.prometheus();
        IntakeServer server;
        try {
            server = new IntakeServer(s, port, metricsPort == null, meters, Clock.systemUTC());
        } catch (java.io.IOException e) {
            throw Preflight.port("--port", port, e);
        }
        MetricsServer monitoring = null;
        if (metricsPort != null) {
            try {
                monitoring = new MetricsServer(metricsPort, meters, () -> true, server::notReady);
            } catch (java.io.IOException e) {
                server.close();
                throw Preflight.port("--metrics-port", metricsPort, e);
            }
            log.info("intake listening on port {}; /metrics and /health/* on port {}", server.port(), monitoring.port());
        } else {
            log.info("intake listening on port {}", server.port());
        }
        MetricsServer metricsServer = monitoring;
        return () -> {
            if (metricsServer != null) {
                metricsServer.close();
            }
            server.close();
        };
    }
}
