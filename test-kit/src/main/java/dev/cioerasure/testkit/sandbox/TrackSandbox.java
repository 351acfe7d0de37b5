package dev.cioerasure.testkit.sandbox;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A local stand-in for Customer.io's Track API, for {@code demo} and benchmarks (tests use
 * WireMock): suppress, destroy and the region check, Basic auth, a realistic latency, a token
 * bucket that answers 429 with {@code Retry-After} past its limit, and an optional error rate.
 * It keeps only counters and the order of calls; identifiers stay in memory, never in logs.
 *
 * <p>Once {@link #enableAppApi} is called it also serves the App API's person look-up
 * ({@code GET /v1/customers/{id}/attributes?id_type=…}, Bearer auth): every person exists until
 * an accepted suppress or destroy, and is gone the given deletion delay after it (Customer.io
 * deletes asynchronously), unless scripted to stay ({@link #keepPresent}). Its limit is a strict
 * sliding window of 10 look-ups per second ({@link #appOverWindow()} counts arrivals past it,
 * each answered 429), and errors can be injected ({@link #failAppApi}).
 */
public final class TrackSandbox implements AutoCloseable {

    /**
     * Sandbox behaviour. {@code limitPerSecond} 0 means unlimited; {@code keepCalls} keeps every
     * call in memory for {@link #calls()} (tests, demo), off for long-running sandboxes.
     */
    public record Options(String siteId, String apiKey, int latencyMillis, int limitPerSecond, double errorRate, boolean keepCalls,
                          Limit limit) {
        public Options(String siteId, String apiKey, int latencyMillis, int limitPerSecond, double errorRate, boolean keepCalls) {
            this(siteId, apiKey, latencyMillis, limitPerSecond, errorRate, keepCalls, Limit.TOKEN_BUCKET);
        }

        public Options(String siteId, String apiKey, int latencyMillis, int limitPerSecond, double errorRate) {
            this(siteId, apiKey, latencyMillis, limitPerSecond, errorRate, true);
        }

        /** The same sandbox counting its limit another way. */
        public Options with(Limit l) {
            return new Options(siteId, apiKey, latencyMillis, limitPerSecond, errorRate, keepCalls, l);
        }

        /** The demo's: 50 ms, 100 calls/s counted in a strict sliding window (what the worker guarantees against). */
        public static Options demo(String siteId, String apiKey) {
            return new Options(siteId, apiKey, 50, 100, 0.0, true, Limit.SLIDING_WINDOW);
        }
    }

    /** How the sandbox counts its limit. */
    public enum Limit {
        /** Refills continuously and forgives a burst of up to a second's worth (lenient). */
        TOKEN_BUCKET,
        /**
         * Counts accepted arrivals in the one second before each arrival, whatever window a
         * server may draw; an arrival that finds the limit reached gets 429 (strict).
         */
        SLIDING_WINDOW
    }

    /** One call the sandbox answered; {@code atNanos} is when it arrived. */
    public record Call(String operation, String identifier, int status, long atNanos) { }

    private final Options options;
    private final HttpServer server;
    private final ExecutorService executor;
    private final TokenBucket bucket;
    private final SlidingLog window;
    private final AtomicLong overWindow = new AtomicLong();
    private final List<Call> calls = new ArrayList<>();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong throttled = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final String expectedAuth;
    /** When each erased person's deletion began (nanoTime), by the identifier as Track's path names it. */
    private final java.util.Map<String, Long> erasedAt = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.Set<String> stayPresent = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile String appAuth;
    private volatile long deletionDelayNanos;
    private final SlidingLog appWindow = new SlidingLog(APP_LIMIT_PER_SECOND);
    private final AtomicLong appOverWindow = new AtomicLong();
    private final AtomicLong appCalls = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger appFailures = new java.util.concurrent.atomic.AtomicInteger();
    private volatile int appFailureStatus;
    /** The App API's documented limit. */
    public static final int APP_LIMIT_PER_SECOND = 10;

    public TrackSandbox(Options options) throws IOException {
        this(options, new InetSocketAddress("127.0.0.1", 0));
    }

    /** A sandbox listening on the given address (e.g. 0.0.0.0:8080 in a container). */
    public TrackSandbox(Options options, InetSocketAddress address) throws IOException {
        this.options = options;
        boolean strict = options.limit() == Limit.SLIDING_WINDOW;
        this.bucket = options.limitPerSecond() > 0 && !strict ? new TokenBucket(options.limitPerSecond()) : null;
        this.window = options.limitPerSecond() > 0 && strict ? new SlidingLog(options.limitPerSecond()) : null;
        this.expectedAuth = "Basic " + Base64.getEncoder().encodeToString(
                (options.siteId() + ":" + options.apiKey()).getBytes(StandardCharsets.UTF_8));
        this.server = HttpServer.create(address, 512);
        this.executor = Executors.newFixedThreadPool(256, r -> {
            Thread t = new Thread(r, "track-sandbox");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/api/v1/", this::handle);
        server.createContext("/api/v2/", this::handleBatch);
        server.createContext("/v1/", this::handleApp);
        server.start();
    }

    public URI baseUrl() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        long arrived = System.nanoTime();
        try (ex) {
            ex.getRequestBody().readAllBytes();
            String raw = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            String op;
            String identifier = null;
            if (raw.equals("/api/v1/accounts/region") && method.equals("GET")) {
                op = "region";
            } else if (raw.startsWith("/api/v1/customers/") && raw.endsWith("/suppress") && method.equals("POST")) {
                op = "suppress";
                identifier = decode(raw.substring("/api/v1/customers/".length(), raw.length() - "/suppress".length()));
            } else if (raw.startsWith("/api/v1/customers/") && method.equals("DELETE")) {
                op = "destroy";
                identifier = decode(raw.substring("/api/v1/customers/".length()));
            } else {
                send(ex, 404, "{\"meta\":{\"error\":\"not found\"}}");
                return;
            }
            if (identifier != null && identifier.contains("/")) {
                send(ex, 404, "{\"meta\":{\"error\":\"not found\"}}");
                return;
            }
            if (!admitted(ex, op, identifier, arrived)) {
                return;
            }
            if (down || (options.errorRate() > 0 && ThreadLocalRandom.current().nextDouble() < options.errorRate())) {
                failed.incrementAndGet();
                record(op, identifier, 503, arrived);
                send(ex, 503, "{\"meta\":{\"error\":\"service unavailable\"}}");
                return;
            }
            accepted.incrementAndGet();
            if (identifier != null) {
                erasedAt.putIfAbsent(identifier, System.nanoTime());
            }
            record(op, identifier, 200, arrived);
            send(ex, 200, op.equals("region")
                    ? "{\"url\":\"https://track.customer.io\",\"region\":\"us\",\"environment_id\":1}"
                    : "{}");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Serves the App API's look-up with the given Bearer key; a person is gone {@code deletionDelay}
     * after the first accepted suppress or destroy.
     */
    public void enableAppApi(String appApiKey, java.time.Duration deletionDelay) {
        this.deletionDelayNanos = deletionDelay.toNanos();
        this.appAuth = "Bearer " + appApiKey;
    }

    /** Scripts a person (as Track's path names it: the id, the email, or {@code cio_<id>}) to stay present whatever happens. */
    public void keepPresent(String identifier) {
        stayPresent.add(identifier);
    }

    /** The next {@code times} App API look-ups are answered with {@code status} (429 with {@code Retry-After: 1}). */
    public void failAppApi(int status, int times) {
        appFailureStatus = status;
        appFailures.set(times);
    }

    /** App API look-ups that arrived while the sliding window already held 10 (each got 429). */
    public long appOverWindow() {
        return appOverWindow.get();
    }

    /** App API look-ups answered (any status). */
    public long appCalls() {
        return appCalls.get();
    }

    private void handleApp(HttpExchange ex) throws IOException {
        try (ex) {
            ex.getRequestBody().readAllBytes();
            String raw = ex.getRequestURI().getRawPath();
            String query = ex.getRequestURI().getRawQuery();
            if (appAuth == null || !ex.getRequestMethod().equals("GET") || !raw.startsWith("/v1/customers/")
                    || !raw.endsWith("/attributes") || query == null || !query.matches("id_type=(id|email|cio_id)")) {
                send(ex, 404, "{\"errors\":[{\"detail\":\"not found\"}]}");
                return;
            }
            appCalls.incrementAndGet();
            if (!appAuth.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                send(ex, 401, "{\"errors\":[{\"detail\":\"unauthorized\"}]}");
                return;
            }
            if (!appWindow.tryAdmitNow()) {
                appOverWindow.incrementAndGet();
                ex.getResponseHeaders().set("Retry-After", "1");
                send(ex, 429, "{\"errors\":[{\"detail\":\"rate limit exceeded\"}]}");
                return;
            }
            if (options.latencyMillis() > 0) {
                Thread.sleep(options.latencyMillis());
            }
            if (appFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                if (appFailureStatus == 429) {
                    ex.getResponseHeaders().set("Retry-After", "1");
                }
                send(ex, appFailureStatus, "{\"errors\":[{\"detail\":\"injected\"}]}");
                return;
            }
            String value = decode(raw.substring("/v1/customers/".length(), raw.length() - "/attributes".length()));
            String identifier = query.equals("id_type=cio_id") ? "cio_" + value : value;
            Long erased = erasedAt.get(identifier);
            boolean gone = erased != null && !stayPresent.contains(identifier) && System.nanoTime() - erased >= deletionDelayNanos;
            if (gone) {
                send(ex, 404, "{\"errors\":[{\"detail\":\"customer not found\"}]}");
            } else {
                send(ex, 200, "{\"customer\":{\"attributes\":{}}}");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * What every Track request meets first: the credentials (401), then the limit, counted per
     * request (a batch counts once) the configured way (429 past it), then the latency.
     *
     * @return false when the request was answered here
     */
    private boolean admitted(HttpExchange ex, String op, String identifier, long arrived) throws IOException, InterruptedException {
        if (!expectedAuth.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            record(op, identifier, 401, arrived);
            send(ex, 401, "{\"meta\":{\"error\":\"Unauthorized request\"}}");
            return false;
        }
        if (window != null && !window.tryAdmitNow()) {
            overWindow.incrementAndGet();
        }
        if ((bucket != null && !bucket.tryTake()) || (window != null && window.lastRefused())) {
            throttled.incrementAndGet();
            record(op, identifier, 429, arrived);
            ex.getResponseHeaders().set("Retry-After", "1");
            send(ex, 429, "{\"meta\":{\"error\":\"rate limit exceeded\"}}");
            return false;
        }
        if (options.latencyMillis() > 0) {
            Thread.sleep(options.latencyMillis());
        }
        return true;
    }

    private static String decode(String segment) {
        return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private void record(String op, String identifier, int status, long arrivedNanos) {
        if (options.keepCalls()) {
            synchronized (this) {
                calls.add(new Call(op, identifier, status, arrivedNanos));
            }
        }
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    private volatile boolean down;

    // --- Track v2 batch (POST /api/v2/batch) ---
    /**
     * The documented size limits: the whole request under 500 KB (read at its strictest: under
     * 500,000 bytes), each item at most 32 KB.
     */
    public static final int MAX_BATCH_BYTES = 500_000;
    public static final int MAX_BATCH_ITEM_BYTES = 32 * 1024;
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();
    private final AtomicLong batchRequests = new AtomicLong();
    private final java.util.Set<String> invalidItemsOf = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.Set<String> refuseBatchesWith = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicInteger batchFailures = new java.util.concurrent.atomic.AtomicInteger();
    private volatile int batchFailureStatus;
    private final List<Integer> batchSizes = java.util.Collections.synchronizedList(new ArrayList<>());

    /** Items about this person (as Track's v1 path names them: cio_ ids with the prefix) get a 207 error. */
    public void rejectBatchItemsOf(String identifier) {
        invalidItemsOf.add(identifier);
    }

    /** A batch holding an item about this person is refused whole (400), as a malformed batch would be. */
    public void refuseBatchesWith(String identifier) {
        refuseBatchesWith.add(identifier);
    }

    /** The next {@code times} batch requests are answered {@code status} (429 with Retry-After: 1). */
    public void failBatches(int status, int times) {
        batchFailureStatus = status;
        batchFailures.set(times);
    }

    private volatile boolean holdDeleteBatches;
    private final Object deleteBatchesReleased = new Object();
    private final AtomicInteger heldDeleteBatches = new AtomicInteger();

    /**
     * While set, every batch of deletes is held unanswered (suppress batches are served), so a
     * crash between the two can be staged without failures that would open the worker's breaker.
     * When cleared, the held batches are answered 503, as if never processed; later ones are served.
     */
    public void holdDeleteBatches(boolean hold) {
        synchronized (deleteBatchesReleased) {
            this.holdDeleteBatches = hold;
            deleteBatchesReleased.notifyAll();
        }
    }

    /** Delete batches being held unanswered now (see {@link #holdDeleteBatches}). */
    public int heldDeleteBatches() {
        return heldDeleteBatches.get();
    }

    /** Batch requests that arrived (each counts once against the limit, whatever it holds). */
    public long batchRequests() {
        return batchRequests.get();
    }

    /** The number of items of each batch request answered 200 or 207, in arrival order. */
    public List<Integer> batchSizes() {
        synchronized (batchSizes) {
            return List.copyOf(batchSizes);
        }
    }

    private void handleBatch(HttpExchange ex) throws IOException {
        long arrived = System.nanoTime();
        try (ex) {
            byte[] body = ex.getRequestBody().readNBytes(MAX_BATCH_BYTES + 1);
            if (!ex.getRequestURI().getRawPath().equals("/api/v2/batch") || !ex.getRequestMethod().equals("POST")) {
                send(ex, 404, "{\"meta\":{\"error\":\"not found\"}}");
                return;
            }
            batchRequests.incrementAndGet();
            if (!admitted(ex, "batch", null, arrived)) {
                return;
            }
            if (down) {
                failed.incrementAndGet();
                record("batch", null, 503, arrived);
                send(ex, 503, "{\"meta\":{\"error\":\"service unavailable\"}}");
                return;
            }
            if (batchFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                if (batchFailureStatus == 429) {
                    ex.getResponseHeaders().set("Retry-After", "1");
                }
                record("batch", null, batchFailureStatus, arrived);
                send(ex, batchFailureStatus, "{\"meta\":{\"error\":\"injected\"}}");
                return;
            }
            if (body.length >= MAX_BATCH_BYTES) {
                // what a proxy in front answers; the worker cuts its batches below the limit, and halves one refused so
                send(ex, 413, "{\"meta\":{\"error\":\"batch too large\"}}");
                return;
            }
            com.fasterxml.jackson.databind.JsonNode items;
            try {
                items = JSON.readTree(body).get("batch");
            } catch (IOException e) {
                items = null;
            }
            if (items == null || !items.isArray() || items.isEmpty()) {
                send(ex, 400, "{\"meta\":{\"error\":\"a batch is {\\\"batch\\\":[item, ...]}\"}}");
                return;
            }
            if (holdDeleteBatches && "delete".equals(items.get(0).path("action").asText())) {
                heldDeleteBatches.incrementAndGet();
                try {
                    synchronized (deleteBatchesReleased) {
                        while (holdDeleteBatches) {
                            deleteBatchesReleased.wait();
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } finally {
                    heldDeleteBatches.decrementAndGet();
                }
                failed.incrementAndGet();
                record("batch", null, 503, arrived);
                send(ex, 503, "{\"meta\":{\"error\":\"service unavailable\"}}");
                return;
            }
            List<String[]> accepted = new ArrayList<>();
            com.fasterxml.jackson.databind.node.ArrayNode errors = JSON.createArrayNode();
            for (int i = 0; i < items.size(); i++) {
                com.fasterxml.jackson.databind.JsonNode item = items.get(i);
                String[] parsed = batchItem(item);
                String problem = parsed.length == 1 ? parsed[0] : null;
                if (problem == null && refuseBatchesWith.contains(parsed[1])) {
                    send(ex, 400, "{\"meta\":{\"error\":\"malformed batch\"}}");
                    return;
                }
                if (problem == null && invalidItemsOf.contains(parsed[1])) {
                    problem = "identifiers";
                }
                if (problem != null) {
                    errors.addObject().put("batch_index", i).put("reason", "invalid").put("field", problem)
                            .put("message", "the item is invalid");
                } else {
                    accepted.add(parsed);
                }
            }
            batchSizes.add(items.size());
            for (String[] a : accepted) {
                this.accepted.incrementAndGet();
                erasedAt.putIfAbsent(a[1], System.nanoTime());
                record(a[0], a[1], 200, arrived);
            }
            if (errors.isEmpty()) {
                send(ex, 200, "{}");
            } else {
                send(ex, 207, JSON.createObjectNode().set("errors", errors).toString());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * One item, {@code {"type":"person","identifiers":{"id"|"email"|"cio_id":…},"action":"suppress"|"delete"}}:
     * {operation, identifier as Track's v1 path names it}, or {the field that is wrong}.
     */
    private static String[] batchItem(com.fasterxml.jackson.databind.JsonNode item) {
        if (item == null || !item.isObject() || item.toString().length() > MAX_BATCH_ITEM_BYTES) {
            return new String[] {"item"};
        }
        if (!"person".equals(item.path("type").asText())) {
            return new String[] {"type"};
        }
        String action = item.path("action").asText();
        if (!action.equals("suppress") && !action.equals("delete")) {
            return new String[] {"action"};
        }
        com.fasterxml.jackson.databind.JsonNode ids = item.get("identifiers");
        if (ids == null || !ids.isObject() || ids.size() != 1) {
            return new String[] {"identifiers"};
        }
        String key = ids.fieldNames().next();
        String value = ids.get(key).isTextual() ? ids.get(key).asText() : "";
        if (value.isEmpty() || !(key.equals("id") || key.equals("email") || key.equals("cio_id"))) {
            return new String[] {"identifiers"};
        }
        return new String[] {action.equals("suppress") ? "suppress" : "destroy", key.equals("cio_id") ? "cio_" + value : value};
    }

    /** An outage of the Track API: while down, every authorised Track call is answered 503 (and not accepted). */
    public void down(boolean isDown) {
        this.down = isDown;
    }

    public synchronized List<Call> calls() {
        return List.copyOf(calls);
    }

    public long accepted() {
        return accepted.get();
    }

    public long throttled() {
        return throttled.get();
    }

    public long failed() {
        return failed.get();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    /** Customer.io-style limit: at most {@code perSecond} calls, refilled continuously. */
    /** Calls that arrived while the sliding window already held the limit (strict mode); each got 429. */
    public long overWindow() {
        return overWindow.get();
    }

    /** Accepted arrival times of the last second; an arrival over the limit is refused. */
    static final class SlidingLog {
        private final long[] times;
        private int next;
        private int size;
        private final ThreadLocal<Boolean> refused = ThreadLocal.withInitial(() -> false);

        SlidingLog(int limit) {
            this.times = new long[limit];
        }

        /**
         * Counts an arrival now, timed inside the lock, so that the log's times are in the order they
         * were counted. A time taken earlier by the handler thread could be written after later ones
         * when that thread lost its CPU in between (the parallel integration tests on two busy cores),
         * and the check against the arrival {@code limit} places back would then compare the wrong
         * arrivals: a call within the limit could be counted over it. Counting any moment between the
         * request's sending and its answer is a server the worker's guarantee covers.
         */
        synchronized boolean tryAdmitNow() {
            long now = System.nanoTime();
            if (size == times.length && now - times[next] < 1_000_000_000L) {
                refused.set(true);
                return false;
            }
            times[next] = now;
            next = (next + 1) % times.length;
            size = Math.min(size + 1, times.length);
            refused.set(false);
            return true;
        }

        /** Whether this thread's last arrival was refused. */
        boolean lastRefused() {
            return refused.get();
        }
    }

    static final class TokenBucket {
        private final double capacity;
        private final double perNano;
        private double tokens;
        private long last = System.nanoTime();

        TokenBucket(int perSecond) {
            this.capacity = perSecond;
            this.perNano = perSecond / 1e9;
            this.tokens = perSecond;
        }

        synchronized boolean tryTake() {
            long now = System.nanoTime();
            tokens = Math.min(capacity, tokens + (now - last) * perNano);
            last = now;
            if (tokens >= 1) {
                tokens -= 1;
                return true;
            }
            return false;
        }
    }
}
