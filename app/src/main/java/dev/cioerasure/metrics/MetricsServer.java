package dev.cioerasure.metrics;

import com.sun.net.httpserver.HttpServer;
import dev.cioerasure.threads.DaemonThreads;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * {@code GET /metrics} (Prometheus text format), {@code /health/live} and {@code /health/ready}
 * (200 or 503, for Kubernetes probes and compose health checks).
 */
public final class MetricsServer implements AutoCloseable {
    private final HttpServer server;

    public MetricsServer(int port, PrometheusMeterRegistry registry, BooleanSupplier live, BooleanSupplier ready) throws IOException {
        this(port, registry, live, () -> ready.getAsBoolean() ? Optional.empty() : Optional.of("not ready"));
    }

    /** @param notReady why the service is not ready (no personal data), empty when it is */
    public MetricsServer(int port, PrometheusMeterRegistry registry, BooleanSupplier live, Supplier<Optional<String>> notReady)
            throws IOException {
        server = HttpServer.create(new InetSocketAddress(port), 16);
        HealthEndpoints endpoints = new HealthEndpoints(registry,
                () -> live.getAsBoolean() ? Optional.empty() : Optional.of("consumer loop not running"), notReady);
        // The JDK server matches contexts by prefix: serve the exact paths only.
        server.createContext("/", ex -> {
            try (ex) {
                if (!endpoints.serve(ex)) {
                    HealthEndpoints.respond(ex, 404, "text/plain; charset=utf-8", "not found\n");
                }
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(2, DaemonThreads.named("metrics-http")));
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
