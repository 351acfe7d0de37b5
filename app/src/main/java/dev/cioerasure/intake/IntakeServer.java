package dev.cioerasure.intake;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.RecordKeys;
import dev.cioerasure.metrics.HealthEndpoints;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.preflight.KafkaWatch;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.ParseResult;
import dev.cioerasure.request.RequestJson;
import dev.cioerasure.request.RequestParser;
import dev.cioerasure.threads.DaemonThreads;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The signed HTTP intake. {@code POST /v1/requests} takes one request in the topic's own format;
 * {@code POST /v1/webhooks/customerio} takes the body of a Customer.io webhook action (see
 * {@link WebhookPayload}). Both must carry a valid {@code X-CIO-Timestamp}/{@code X-CIO-Signature}
 * ({@link SignatureVerifier}). A request is answered 202 only after Kafka has acknowledged it
 * (acks=all); otherwise 400 (invalid, with the reason), 401 (signature), 413 (too large), 503
 * (Kafka unavailable: retry). Nothing that is refused is published.
 */
public final class IntakeServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(IntakeServer.class);
    /** Bodies larger than this are refused with 413 without being read further. */
    public static final int MAX_BODY_BYTES = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final Producer<byte[], byte[]> producer;
    private final String topic;
    private final SignatureVerifier verifier;
    private final RequestParser parser;
    private final SubjectHasher hasher;
    private final Clock clock;
    private final PrometheusMeterRegistry meters;
    private final KafkaWatch kafkaWatch;

    /** An intake that also serves {@code /metrics} and {@code /health/*} on its port. */
    public IntakeServer(Settings s, int port, PrometheusMeterRegistry meters, Clock clock) throws IOException {
        this(s, port, true, meters, clock);
    }

    /**
     * @param withMonitoring whether this port also serves {@code /metrics} and {@code /health/*};
     *                       without, they are 404 here and a {@link dev.cioerasure.metrics.MetricsServer}
     *                       on another port serves them (with {@link #notReady()})
     */
    public IntakeServer(Settings s, int port, boolean withMonitoring, PrometheusMeterRegistry meters, Clock clock) throws IOException {
        this.topic = s.kafka().topic();
        this.verifier = new SignatureVerifier(s.webhookSecrets(), clock);
        this.parser = new RequestParser(clock);
        this.hasher = new SubjectHasher(s.audit().subjectKey());
        this.clock = clock;
        this.meters = meters;
        // every endpoint and answer at 0 from the start, so increase() sees the first one
        for (String endpoint : new String[] {"requests", "webhook", "unknown"}) {
            for (int status : new int[] {202, 400, 401, 404, 405, 413, 415, 503}) {
                counter(endpoint, status);
            }
        }
        this.producer = new KafkaClients(s.kafka()).producer("cio-erasure-intake", Map.of(
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 15_000, ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000));
        // Ready while Kafka answers and the topic exists: a load balancer then sends requests only
        // to an intake that can publish them.
        this.kafkaWatch = new KafkaWatch(s.kafka(), Duration.ofSeconds(10), Duration.ofSeconds(5));
        HealthEndpoints endpoints = new HealthEndpoints(meters, Optional::empty, kafkaWatch::problem);
        Gauge.builder(MetricNames.INTAKE_READY, kafkaWatch, w -> w.problem().isEmpty() ? 1 : 0)
                .description("1 while the intake can publish (Kafka answers, the topic exists); 0: it answers signed requests 503")
                .register(meters);
        this.server = HttpServer.create(new InetSocketAddress(port), 128);
        // The JDK server matches contexts by path prefix; route on the exact path instead, so
        // /v1/requests/extra or /v1/requestsX are 404 and never reach a handler.
        server.createContext("/", ex -> {
            switch (ex.getRequestURI().getPath()) {
                case "/v1/requests" -> handle(ex, "requests");
                case "/v1/webhooks/customerio" -> handle(ex, "webhook");
                default -> {
                    try (ex) {
                        if (!withMonitoring || !endpoints.serve(ex)) {
                            reply(ex, "unknown", 404, "not_found", "no such endpoint; POST to /v1/requests or /v1/webhooks/customerio");
                        }
                    }
                }
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(16, DaemonThreads.named("intake-http")));
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** Why the intake cannot publish now (Kafka does not answer, or the topic is missing); empty when it can. */
    public Optional<String> notReady() {
        return kafkaWatch.problem();
    }

    private void handle(HttpExchange ex, String endpoint) throws IOException {
        try (ex) {
            if (!"POST".equals(ex.getRequestMethod())) {
                ex.getResponseHeaders().set("Allow", "POST");
                reply(ex, endpoint, 405, "method_not_allowed", "use POST");
                return;
            }
            if (!isJson(ex.getRequestHeaders().getFirst("Content-Type"))) {
                reply(ex, endpoint, 415, "unsupported_media_type", "Content-Type must be application/json (UTF-8)");
                return;
            }
            if (!isIdentity(ex.getRequestHeaders().get("Content-Encoding"))) {
                // a gzip body was read as JSON: the sender saw "signature mismatch" or "not JSON", never the cause
                reply(ex, endpoint, 415, "unsupported_media_type", "Content-Encoding is not supported: send the body uncompressed");
                return;
            }
            String length = ex.getRequestHeaders().getFirst("Content-Length");
            if (length != null && !length.strip().matches("[0-9]{1,19}")) {
                // The JDK's server reads "+120" as 120 (it was accepted, 202). A proxy in front may read
                // such a length otherwise, and then the bytes after it as a request of their own
                // (request smuggling): refused, and the connection closed.
                ex.getResponseHeaders().set("Connection", "close");
                reply(ex, endpoint, 400, "bad_request", "Content-Length must be written in digits only");
                return;
            }
            // a declared length over the limit is refused before a byte of the body is read
            byte[] body;
            try {
                body = declaredTooLarge(length) ? null : readLimited(ex.getRequestBody());
            } catch (IOException e) {
                // a malformed chunk header (the JDK's reader refuses it): the sender got a closed
                // connection and no word why; if the connection itself is gone, this answer fails too
                reply(ex, endpoint, 400, "bad_request", "the body could not be read: malformed chunked transfer encoding");
                return;
            }
            if (body == null) {
                reply(ex, endpoint, 413, "too_large", "body exceeds " + MAX_BODY_BYTES + " bytes");
                return;
            }
            String signature = ex.getRequestHeaders().getFirst("X-CIO-Signature");
            SignatureVerifier.Verdict v = verifier.verify(ex.getRequestHeaders().getFirst("X-CIO-Timestamp"), signature, body);
            if (v == SignatureVerifier.Verdict.IN_PROGRESS) {
                // the first copy may still fail (Kafka slow to answer, the sender gave up waiting and
                // sent it again): "already accepted" would make the sender drop a request that is lost
                ex.getResponseHeaders().set("Retry-After", "5");
                reply(ex, endpoint, 503, "in_progress", "the same signed request is being handed to Kafka; retry in a few seconds");
                return;
            }
            if (v != SignatureVerifier.Verdict.OK) {
                reply(ex, endpoint, 401, "signature_" + v.name().toLowerCase(java.util.Locale.ROOT), switch (v) {
                    case MISSING -> "X-CIO-Timestamp and X-CIO-Signature are required";
                    case MALFORMED -> "X-CIO-Timestamp must be unix seconds and X-CIO-Signature 64 hex characters";
                    case STALE -> "X-CIO-Timestamp is more than 5 minutes from now";
                    case REPLAYED -> "this signed request was already accepted";
                    default -> "X-CIO-Signature does not match the body";
                });
                return;
            }
            boolean published = false;
            try {
                published = publish(ex, endpoint, body, signature);
            } finally {
                if (!published) {
                    verifier.release(signature); // also after an unexpected failure: a retry is not a replay
                }
            }
        }
    }

    /**
     * Checks a verified body against the contract and publishes it; true once Kafka acknowledged
     * it and the caller was told 202. Any other answer releases the signature first, so that a
     * sender who retries at once is not refused as a replay.
     */
    private boolean publish(HttpExchange ex, String endpoint, byte[] body, String signature) throws IOException {
        ErasureRequest request;
        if (endpoint.equals("webhook")) {
            try {
                // verified above: unix seconds within 5 minutes of now
                Instant signedAt = Instant.ofEpochSecond(Long.parseLong(ex.getRequestHeaders().getFirst("X-CIO-Timestamp")));
                request = WebhookPayload.toRequest(body, clock.instant(), signedAt, hasher::hash);
            } catch (IllegalArgumentException e) {
                refuse(ex, endpoint, signature, 400, "invalid", e.getMessage());
                return false;
            }
            body = RequestJson.toBytes(request);
        }
        // Whatever came in must pass the same contract the worker enforces.
        ParseResult parsed = parser.parse(body);
        if (parsed instanceof ParseResult.Invalid invalid) {
            refuse(ex, endpoint, signature, 400, "invalid", invalid.rejection().describe());
            return false;
        }
        request = ((ParseResult.Valid) parsed).request();
        RecordMetadata meta;
        try {
            meta = producer.send(new ProducerRecord<>(topic,
                    RecordKeys.forSubject(hasher.hash(request.identifier())), body)).get(20, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            // the producer's own exception says why (no topic, too large for it, no ACL, no broker); it holds no request content
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            log.warn("could not publish request {} to {} ({}: {}); the caller is told to retry", request.requestId(), topic,
                    cause.getClass().getSimpleName(), cause.getMessage());
            refuse(ex, endpoint, signature, 503, "unavailable", "could not hand the request to Kafka; retry later");
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            refuse(ex, endpoint, signature, 503, "unavailable", "shutting down; retry later");
            return false;
        }
        verifier.published(signature); // a copy is a replay from now on
        log.info("accepted request {} via {} as {}-{}@{}", request.requestId(), endpoint, meta.topic(), meta.partition(), meta.offset());
        ObjectNode ok = JSON.createObjectNode();
        ok.put("status", "accepted");
        ok.put("request_id", request.requestId());
        ok.put("deadline", request.deadline().toString());
        count(endpoint, 202);
        respond(ex, 202, ok.toString());
        return true;
    }

    private void refuse(HttpExchange ex, String endpoint, String signature, int status, String error, String reason) throws IOException {
        verifier.release(signature);
        reply(ex, endpoint, status, error, reason);
    }

    private void reply(HttpExchange ex, String endpoint, int status, String error, String reason) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("error", error);
        n.put("reason", reason);
        if (status != 413) {
            log.info("refused {} on {}: {} {}", loggable(ex.getRequestMethod()), endpoint, status, error);
        }
        count(endpoint, status);
        respond(ex, status, n.toString());
    }

    private static final java.util.Set<String> STANDARD_METHODS =
            java.util.Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT");

    /**
     * The request method as the log may show it. The JDK server takes any token as a method, and
     * anyone who can reach the port chooses it: an email address, terminal escapes, 100,000
     * characters. Only the standard methods are named.
     */
    static String loggable(String method) {
        return STANDARD_METHODS.contains(method) ? method : "a non-standard method";
    }

    private void count(String endpoint, int status) {
        counter(endpoint, status).increment();
    }

    private Counter counter(String endpoint, int status) {
        return Counter.builder(MetricNames.INTAKE).description("HTTP intake requests by endpoint and status")
                .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(meters);
    }

    private static boolean declaredTooLarge(String contentLength) {
        try {
            return contentLength != null && Long.parseLong(contentLength.strip()) > MAX_BODY_BYTES;
        } catch (NumberFormatException e) {
            return false; // the JDK server refuses a malformed length itself
        }
    }

    /** The body, or null when it is larger than the limit. */
    private static byte[] readLimited(InputStream in) throws IOException {
        byte[] b = in.readNBytes(MAX_BODY_BYTES + 1);
        return b.length > MAX_BODY_BYTES ? null : b;
    }

    /** No {@code Content-Encoding}, or only {@code identity}: the body is the JSON itself. */
    static boolean isIdentity(java.util.List<String> contentEncodings) {
        return contentEncodings == null || contentEncodings.stream().flatMap(v -> java.util.Arrays.stream(v.split(",")))
                .map(String::trim).allMatch(e -> e.isEmpty() || e.equalsIgnoreCase("identity"));
    }

    /** {@code application/json}, optionally with {@code charset=utf-8}; nothing else. */
    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        String[] parts = contentType.split(";");
        if (!parts[0].trim().equalsIgnoreCase("application/json")) {
            return false;
        }
        for (int i = 1; i < parts.length; i++) {
            String[] kv = parts[i].trim().split("=", 2);
            if (kv.length != 2 || !kv[0].trim().equalsIgnoreCase("charset")
                    || !kv[1].trim().replace("\"", "").equalsIgnoreCase("utf-8")) {
                return false;
            }
        }
        return true;
    }

    private static void respond(HttpExchange ex, int status, String body) throws IOException {
        HealthEndpoints.respond(ex, status, "application/json", body);
    }

    @Override
    public void close() {
        server.stop(1);
        kafkaWatch.close();
        producer.close();
    }
}
