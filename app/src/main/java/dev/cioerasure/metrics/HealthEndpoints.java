package dev.cioerasure.metrics;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * {@code GET /metrics} (Prometheus text format), {@code /health/live} and {@code /health/ready}
 * (200 {@code {"status":"UP"}}, or 503 {@code {"status":"DOWN","reason":…}}), served the same way
 * by the worker's metrics port and by the intake.
 *
 * @param notLive  why the process is not live (no personal data), empty when it is
 * @param notReady why it is not ready (no personal data), empty when it is
 */
public record HealthEndpoints(PrometheusMeterRegistry registry, Supplier<Optional<String>> notLive,
                              Supplier<Optional<String>> notReady) {

    /**
     * Serves the exchange if its path is one of these endpoints; returns false (nothing sent)
     * otherwise. They are reads: GET and HEAD are answered, any other method gets 405.
     */
    public boolean serve(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        if (!path.equals("/metrics") && !path.equals("/health/live") && !path.equals("/health/ready")) {
            return false;
        }
        if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
            ex.getResponseHeaders().set("Allow", "GET, HEAD");
            respond(ex, 405, "text/plain; charset=utf-8", "method not allowed: use GET\n");
            return true;
        }
        switch (path) {
            case "/metrics" -> respond(ex, 200, "text/plain; version=0.0.4; charset=utf-8", registry.scrape());
            case "/health/live" -> health(ex, notLive.get());
            default -> health(ex, notReady.get());
        }
        return true;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private static void health(HttpExchange ex, Optional<String> problem) throws IOException {
        if (problem.isEmpty()) {
            respond(ex, 200, "application/json", "{\"status\":\"UP\"}\n");
        } else {
            // Jackson escapes what a reason may carry from a driver's or broker's message (a line
            // break, a control character), which a probe's JSON parser would otherwise refuse
            ObjectNode down = JSON.createObjectNode().put("status", "DOWN").put("reason", problem.get());
            respond(ex, 503, "application/json", down + "\n");
        }
    }

    /** Sends {@code body}, or for a HEAD request only the headers (a HEAD answer has no body, by its length -1). */
    public static void respond(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
