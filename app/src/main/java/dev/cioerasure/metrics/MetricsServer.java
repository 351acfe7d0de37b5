package dev.cioerasure.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.cioerasure.threads.DaemonThreads;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
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
        // The JDK server matches contexts by prefix: serve the exact paths only.
        server.createContext("/", ex -> {
            try (ex) {
                switch (ex.getRequestURI().getPath()) {
                    case "/metrics" -> respond(ex, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
                    case "/health/live" -> health(ex, live.getAsBoolean() ? Optional.empty() : Optional.of("consumer loop not running"));
                    case "/health/ready" -> health(ex, notReady.get());
                    default -> respond(ex, 404, "text/plain; charset=utf-8", "not found\n");
                }
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(2, DaemonThreads.named("metrics-http")));
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void health(HttpExchange ex, Optional<String> problem) throws IOException {
        if (problem.isEmpty()) {
            respond(ex, 200, "application/json", "{\"status\":\"UP\"}\n");
        } else {
            String reason = problem.get().replace("\\", "\\\\").replace("\"", "\\\"");
            respond(ex, 503, "application/json", "{\"status\":\"DOWN\",\"reason\":\"" + reason + "\"}\n");
        }
    }

    private static void respond(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
