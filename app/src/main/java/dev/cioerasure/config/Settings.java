package dev.cioerasure.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * The whole effective configuration, immutable and validated once at start-up by
 * {@link SettingsLoader}. A group a command does not need is {@code null}.
 */
public record Settings(Kafka kafka, Database database, CustomerIo customerIo, Audit audit,
                       Worker worker, List<Secret> webhookSecrets, List<Workspace> workspaces) {

    /**
     * @param customerIo the one workspace (named {@value Workspace#DEFAULT_NAME}); with a workspace
     *                   list, the first workspace (its shared settings are every workspace's)
     */
    public Settings {
        workspaces = workspaces != null ? List.copyOf(workspaces)
                : customerIo == null ? List.of() : List.of(new Workspace(Workspace.DEFAULT_NAME, customerIo));
    }

    /** A single workspace, or none (commands that do not call Customer.io). */
    public Settings(Kafka kafka, Database database, CustomerIo customerIo, Audit audit, Worker worker, List<Secret> webhookSecrets) {
        this(kafka, database, customerIo, audit, worker, webhookSecrets, null);
    }

    /**
     * One Customer.io workspace the worker erases from: a short name (in requests' {@code workspaces},
     * audit rows, metric tags and alerts; never a secret) and how to reach it.
     */
    public record Workspace(String name, CustomerIo customerIo) {
        /** The name of the single workspace configured through the CUSTOMERIO_* variables. */
        public static final String DEFAULT_NAME = "default";
        /** Names: lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 32. */
        public static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[a-z0-9][a-z0-9_-]{0,31}");
        /** At most this many workspaces: the names are metric tags, a bounded set. */
        public static final int MAX = 16;
    }

    /**
     * @param client        TLS, SASL and any other client property every Kafka client of this program uses
     * @param outcomesTopic where each final outcome and verification result is announced (for ticketing
     *                      and DSR platforms), or null for nowhere
     */
    public record Kafka(String bootstrapServers, String topic, String groupId, KafkaClientConfig client, String outcomesTopic) {
        public static final String DEFAULT_OUTCOMES_TOPIC = "erasure.outcomes";

        /** A plaintext cluster. */
        public Kafka(String bootstrapServers, String topic, String groupId) {
            this(bootstrapServers, topic, groupId, KafkaClientConfig.NONE);
        }

        /** Without outcome events. */
        public Kafka(String bootstrapServers, String topic, String groupId, KafkaClientConfig client) {
            this(bootstrapServers, topic, groupId, client, null);
        }

        public Kafka withOutcomesTopic(String t) {
            return new Kafka(bootstrapServers, topic, groupId, client, t);
        }

        /** Invalid requests and requests that finally failed, with the reason in headers. */
        public String dlqTopic() {
            return topic + ".dlq";
        }

        /** Requests parked after a transient failure, replayed later. */
        public String retryTopic() {
            return topic + ".retry";
        }

        /** Completed requests waiting for their next check that the person is gone (App API). */
        public String verifyTopic() {
            return topic + ".verify";
        }
    }

    public record Database(String url, String user, Secret password, int poolSize) { }

    /**
     * @param breakerOpenFor how long erasures pause before one probe call tests Customer.io again, when
     *                       it looks down (5xx, timeouts) or refuses the credentials (401/403)
     */
    public record CustomerIo(String siteId, Secret apiKey, Region region, URI trackUrl,
                             int rateLimitPerSecond, int maxAttempts,
                             Duration connectTimeout, Duration requestTimeout, Duration breakerOpenFor, int rateHeadroomPercent,
                             Verification verification, Batch batch) {
        public CustomerIo(String siteId, Secret apiKey, Region region, URI trackUrl, int rateLimitPerSecond, int maxAttempts,
                          Duration connectTimeout, Duration requestTimeout, Duration breakerOpenFor, int rateHeadroomPercent,
                          Verification verification) {
            this(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout, breakerOpenFor,
                    rateHeadroomPercent, verification, Batch.V1);
        }

        public CustomerIo withBatch(Batch b) {
            return new CustomerIo(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout,
                    breakerOpenFor, rateHeadroomPercent, verification, b);
        }
        public CustomerIo(String siteId, Secret apiKey, Region region, URI trackUrl, int rateLimitPerSecond, int maxAttempts,
                          Duration connectTimeout, Duration requestTimeout, Duration breakerOpenFor, int rateHeadroomPercent) {
            this(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout, breakerOpenFor,
                    rateHeadroomPercent, Verification.OFF);
        }

        public CustomerIo(String siteId, Secret apiKey, Region region, URI trackUrl, int rateLimitPerSecond, int maxAttempts,
                          Duration connectTimeout, Duration requestTimeout, Duration breakerOpenFor) {
            this(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout, breakerOpenFor, 0);
        }

        public CustomerIo(String siteId, Secret apiKey, Region region, URI trackUrl, int rateLimitPerSecond, int maxAttempts,
                          Duration connectTimeout, Duration requestTimeout) {
            this(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout,
                    Duration.ofSeconds(30));
        }

        public CustomerIo withBreakerOpenFor(Duration d) {
            return new CustomerIo(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout, d,
                    rateHeadroomPercent, verification, batch);
        }

        public CustomerIo withVerification(Verification v) {
            return new CustomerIo(siteId, apiKey, region, trackUrl, rateLimitPerSecond, maxAttempts, connectTimeout, requestTimeout,
                    breakerOpenFor, rateHeadroomPercent, v, batch);
        }

        /** The App API base URL: the override if set, else the region's. */
        public URI appBaseUrl() {
            return verification.appUrl() != null ? verification.appUrl() : region.appUrl();
        }

        /** The base URL calls go to: the override if set, else the region's. */
        public URI baseUrl() {
            return trackUrl != null ? trackUrl : region.trackUrl();
        }

        /** The site id the calls are made as (not a secret): the key's own when it is written {@code SITE_ID:API_KEY}. */
        public String siteIdInUse() {
            return siteIdInUse(siteId, apiKey);
        }

        /** Whether two base URLs name one server and path, a trailing slash aside. */
        public static boolean sameBaseUrl(URI a, URI b) {
            return baseUrlKey(a).equals(baseUrlKey(b));
        }

        /** A base URL without its trailing slashes: equal for the URLs {@link #sameBaseUrl} takes for one. */
        public static String baseUrlKey(URI url) {
            return url.toString().replaceFirst("/+$", "");
        }

        /** The site id calls with this configured site id and key are made as: the key's own when it has one. */
        public static String siteIdInUse(String siteId, Secret apiKey) {
            String key = apiKey.reveal().strip();
            int colon = key.indexOf(':');
            return colon > 0 ? key.substring(0, colon) : siteId;
        }
    }

    /**
     * How erasures reach the Track API: v1 (one request per call, the default) or v2 batches.
     *
     * @param enabled  {@code CUSTOMERIO_TRACK_API=batch}: calls are gathered into {@code POST /api/v2/batch}
     *                 requests, and the rate limit counts those requests
     * @param maxItems a batch goes when it holds this many calls (persons) ...
     * @param maxWait  ... or when its oldest call has waited this long
     */
    public record Batch(boolean enabled, int maxItems, Duration maxWait) {
        public static final Batch V1 = new Batch(false, 100, Duration.ofMillis(50));
    }

    /**
     * Verification through the App API that a person is gone after a COMPLETED erasure.
     *
     * @param appKey          the App API key (Bearer; not the Track key); null: no verification, each
     *                        completed request gets an UNVERIFIABLE row saying so
     * @param appUrl          overrides the region's App API base URL, or null
     * @param rateLimitPerSecond App API look-ups per second for the whole consumer group
     * @param firstCheckAfter the first check comes this long after the erasure; each later one
     *                        twice as long after the one before (at most {@link #MAX_INTERVAL})
     * @param deadline        how long after the erasure the person may still be present; then
     *                        STILL_PRESENT (or UNVERIFIABLE when no check got an answer)
     * @param controlPersonId the customer id ({@code id}) of a person the workspace holds and nobody
     *                        erases, or null: a 404 counts only while the App API key finds that person
     *                        (a key of another workspace answers 404 for everyone). An identifier,
     *                        so kept as a {@link Secret}: never printed
     */
    public record Verification(Secret appKey, URI appUrl, int rateLimitPerSecond, Duration firstCheckAfter, Duration deadline,
                               Secret controlPersonId) {
        public Verification(Secret appKey, URI appUrl, int rateLimitPerSecond, Duration firstCheckAfter, Duration deadline) {
            this(appKey, appUrl, rateLimitPerSecond, firstCheckAfter, deadline, null);
        }

        public static final Duration MAX_INTERVAL = Duration.ofHours(1);
        public static final Verification OFF = new Verification(null, null, 10, Duration.ofMinutes(1), Duration.ofHours(24));

        public boolean enabled() {
            return appKey != null;
        }
    }

    /** @param checkpoints where and how often the worker publishes signed checkpoints of the audit chain */
    public record Audit(Secret subjectKey, Checkpoints checkpoints) {
        public Audit(Secret subjectKey) {
            this(subjectKey, Checkpoints.OFF);
        }
    }

    /**
     * Signed checkpoints of the audit chain, published outside the database.
     *
     * @param signingKey Ed25519 private key (PEM); null: no checkpoints
     * @param topic      compacted Kafka topic, or null for none
     * @param directory  a directory (e.g. a WORM bucket mount), or null for none
     */
    public record Checkpoints(java.nio.file.Path signingKey, String topic, java.nio.file.Path directory, Duration every) {
        public static final String DEFAULT_TOPIC = "erasure.audit.checkpoints";
        public static final Checkpoints OFF = new Checkpoints(null, null, null, Duration.ofMinutes(1));

        public boolean enabled() {
            return signingKey != null && (topic != null || directory != null);
        }
    }

    /**
     * @param retryDelays delay before each retry round of a request whose in-line retries ran out
     *                    (after the last round it is FAILED and dead-lettered)
     * @param maxParked   retry-topic records held in memory until due; beyond it the retry topic pauses
     * @param staticMembership join the consumer group as a static member named {@code instanceId}
     *                    (when WORKER_INSTANCE_ID is set explicitly): a restart reclaims its partitions at once
     * @param stallAfter  a record in flight longer than this makes the worker not ready (its partition is stuck)
     */
    public record Worker(String instanceId, int maxInFlight, int metricsPort, List<Duration> retryDelays, int maxParked,
                         boolean staticMembership, Duration stallAfter) {
        public static final Duration DEFAULT_STALL_AFTER = Duration.ofMinutes(10);

        public Worker(String instanceId, int maxInFlight, int metricsPort, List<Duration> retryDelays, int maxParked,
                      boolean staticMembership) {
            this(instanceId, maxInFlight, metricsPort, retryDelays, maxParked, staticMembership, DEFAULT_STALL_AFTER);
        }

        /** The longest of the retry delays (a retry record waits at most this long), empty when there are none. */
        public java.util.Optional<Duration> longestRetryDelay() {
            return retryDelays.stream().max(Duration::compareTo);
        }

        public static final List<Duration> DEFAULT_RETRY_DELAYS = List.of(Duration.ofMinutes(1), Duration.ofMinutes(5),
                Duration.ofMinutes(15), Duration.ofHours(1), Duration.ofHours(2), Duration.ofHours(4), Duration.ofHours(8),
                Duration.ofHours(8));

        /** Defaults for everything but identity, concurrency and port. */
        public Worker(String instanceId, int maxInFlight, int metricsPort) {
            this(instanceId, maxInFlight, metricsPort, DEFAULT_RETRY_DELAYS, 10_000, false);
        }

        public Worker withRetryDelays(List<Duration> delays) {
            return new Worker(instanceId, maxInFlight, metricsPort, delays, maxParked, staticMembership, stallAfter);
        }

        public Worker withStallAfter(Duration d) {
            return new Worker(instanceId, maxInFlight, metricsPort, retryDelays, maxParked, staticMembership, d);
        }
    }

    /** Customer.io data-centre regions and their Track API base URLs. */
    public enum Region {
        US("https://track.customer.io", "https://api.customer.io"),
        EU("https://track-eu.customer.io", "https://api-eu.customer.io");

        private final URI trackUrl;
        private final URI appUrl;

        Region(String track, String app) {
            this.trackUrl = URI.create(track);
            this.appUrl = URI.create(app);
        }

        public URI trackUrl() {
            return trackUrl;
        }

        /** The App API (verification) base URL. */
        public URI appUrl() {
            return appUrl;
        }
    }

    /** A duration as the settings write one: {@code 8h}, {@code 5m}, {@code 30s}. */
    public static String human(Duration d) {
        if (d.toSeconds() % 3600 == 0) {
            return d.toHours() + "h";
        }
        if (d.toSeconds() % 60 == 0) {
            return d.toMinutes() + "m";
        }
        return d.toSeconds() + "s";
    }

    /** A secret for the start-up log: hidden, with where it came from ({@code env NAME} or {@code file PATH}). */
    static String shown(Secret s) {
        return s == null ? "(not set)" : "[hidden] (" + s.origin() + ")";
    }

    /**
     * One warning per Customer.io base URL on plain http:// to a host other than this machine: its
     * key (Track: Basic auth; App API: a bearer token) would cross the network unencrypted. The
     * settings allow http for a sandbox (docker compose runs one on its own network), so it is a
     * warning, logged at start-up and printed by {@code credentials verify}, not a refusal.
     */
    public List<String> plainHttpWarnings() {
        List<String> warnings = new java.util.ArrayList<>();
        boolean single = workspaces.size() == 1 && workspaces.get(0).name().equals(Workspace.DEFAULT_NAME);
        for (Workspace w : workspaces) {
            CustomerIo c = w.customerIo();
            String of = single ? "" : " of workspace " + w.name();
            inClear(c.baseUrl(), (single ? "CUSTOMERIO_TRACK_URL" : "track_url") + of, "Track API key").ifPresent(warnings::add);
            if (c.verification().enabled()) {
                inClear(c.appBaseUrl(), (single ? "CUSTOMERIO_APP_URL" : "app_url") + of, "App API key").ifPresent(warnings::add);
            }
        }
        return warnings;
    }

    /** The warning for a base URL that is plain http:// to a host other than this machine; empty otherwise. */
    private static java.util.Optional<String> inClear(URI url, String setting, String key) {
        String host = url.getHost().toLowerCase(java.util.Locale.ROOT);
        if (!"http".equalsIgnoreCase(url.getScheme()) || host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]")
                || host.equals("::1")) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(setting + " is plain http:// to " + url.getHost() + ": the " + key + " crosses the network"
                + " unencrypted (use https://; http only for a sandbox on this machine or a private network)");
    }

    /** One line per setting, secrets shown only as their source; for the start-up log. */
    public String describe() {
        StringBuilder b = new StringBuilder("effective configuration:");
        if (kafka != null) {
            b.append("\n  KAFKA_BOOTSTRAP_SERVERS=").append(kafka.bootstrapServers())
             .append("\n  ERASURE_TOPIC=").append(kafka.topic())
             .append(" (dlq ").append(kafka.dlqTopic()).append(", retry ").append(kafka.retryTopic()).append(')')
             .append("\n  ERASURE_GROUP_ID=").append(kafka.groupId())
             .append("\n  ERASURE_OUTCOMES_TOPIC=").append(kafka.outcomesTopic() == null ? "none" : kafka.outcomesTopic())
             .append("\n  Kafka security=").append(kafka.client().describe());
        }
        if (database != null) {
            b.append("\n  DATABASE_URL=").append(Redact.jdbcUrl(database.url()))
             .append("\n  DATABASE_USER=").append(database.user())
             .append("\n  DATABASE_PASSWORD=").append(shown(database.password()))
             .append("\n  DATABASE_POOL_SIZE=").append(database.poolSize());
        }
        boolean single = workspaces.size() == 1 && workspaces.get(0).name().equals(Workspace.DEFAULT_NAME);
        for (Workspace w : single ? List.<Workspace>of() : workspaces) {
            CustomerIo c = w.customerIo();
            b.append("\n  workspace ").append(w.name()).append(": site_id=").append(c.siteId())
             .append(", track key ").append(shown(c.apiKey())).append(", region ").append(c.region().name().toLowerCase(java.util.Locale.ROOT))
             .append(", track base URL ").append(c.baseUrl()).append(", ").append(c.rateLimitPerSecond()).append(" calls/s, App API key ")
             .append(c.verification().enabled() ? shown(c.verification().appKey()) + " at " + c.appBaseUrl() + " ("
                     + c.verification().rateLimitPerSecond() + " look-ups/s)" : "(not set: UNVERIFIABLE rows)");
        }
        if (!workspaces.isEmpty()) {
            CustomerIo customerIo = workspaces.get(0).customerIo();
            if (single) {
                b.append("\n  CUSTOMERIO_SITE_ID=").append(customerIo.siteId())
                 .append("\n  CUSTOMERIO_TRACK_API_KEY=").append(shown(customerIo.apiKey()))
                 .append("\n  CUSTOMERIO_REGION=").append(customerIo.region().name().toLowerCase(java.util.Locale.ROOT))
                 .append("\n  track base URL=").append(customerIo.baseUrl())
                 .append("\n  CUSTOMERIO_RATE_LIMIT_PER_SECOND=").append(customerIo.rateLimitPerSecond());
            }
            b.append("\n  CUSTOMERIO_TRACK_API=").append(customerIo.batch().enabled() ? "batch (at most "
                    + customerIo.batch().maxItems() + " persons or " + customerIo.batch().maxWait().toMillis() + " ms a batch)" : "v1")
             .append("\n  CUSTOMERIO_RATE_HEADROOM_PERCENT=").append(customerIo.rateHeadroomPercent())
             .append("\n  CUSTOMERIO_MAX_ATTEMPTS=").append(customerIo.maxAttempts())
             .append("\n  CUSTOMERIO_TIMEOUT_SECONDS=").append(customerIo.requestTimeout().toSeconds())
             .append("\n  CUSTOMERIO_OUTAGE_PAUSE_SECONDS=").append(customerIo.breakerOpenFor().toSeconds());
            Verification v = customerIo.verification();
            if (single) {
                b.append("\n  CUSTOMERIO_APP_API_KEY=").append(v.enabled() ? shown(v.appKey()) : "(not set: no verification, UNVERIFIABLE rows)");
            }
            if (single && v.enabled()) {
                b.append("\n  App API base URL=").append(customerIo.appBaseUrl())
                 .append("\n  CUSTOMERIO_APP_RATE_LIMIT_PER_SECOND=").append(v.rateLimitPerSecond())
                 .append("\n  CUSTOMERIO_APP_CONTROL_PERSON_ID=").append(v.controlPersonId() != null ? "[hidden]"
                         : "(not set: an App API key of another workspace would verify everyone)");
            }
            if (workspaces.stream().anyMatch(w -> w.customerIo().verification().enabled())) {
                b.append("\n  ERASURE_VERIFY_FIRST_AFTER=").append(human(v.firstCheckAfter()))
                 .append("\n  ERASURE_VERIFY_DEADLINE=").append(human(v.deadline()));
            }
        }
        if (audit != null) {
            b.append("\n  AUDIT_SUBJECT_KEY=").append(shown(audit.subjectKey()));
            Checkpoints c = audit.checkpoints();
            b.append("\n  audit checkpoints=").append(!c.enabled() ? "off (no AUDIT_SIGNING_KEY_FILE)"
                    : "every " + c.every().toSeconds() + " s to " + (c.topic() == null ? "" : "topic " + c.topic())
                    + (c.topic() != null && c.directory() != null ? " and " : "") + (c.directory() == null ? "" : "AUDIT_CHECKPOINT_DIR"));
        }
        if (worker != null) {
            b.append("\n  WORKER_INSTANCE_ID=").append(worker.instanceId())
             .append(worker.staticMembership() ? " (static group member)" : "")
             .append("\n  ERASURE_MAX_IN_FLIGHT=").append(worker.maxInFlight())
             .append("\n  METRICS_PORT=").append(worker.metricsPort())
             .append("\n  ERASURE_RETRY_DELAYS=").append(worker.retryDelays().stream().map(Settings::human).toList())
             .append("\n  ERASURE_MAX_PARKED=").append(worker.maxParked())
             .append("\n  ERASURE_STALL_AFTER=").append(human(worker.stallAfter()));
        }
        if (webhookSecrets != null && !webhookSecrets.isEmpty()) {
            // the current secret first, then the previous one (SettingsLoader's order)
            b.append("\n  ERASURE_WEBHOOK_SECRET=").append(shown(webhookSecrets.get(0)));
            if (webhookSecrets.size() > 1) {
                b.append("\n  ERASURE_WEBHOOK_SECRET_PREVIOUS=").append(shown(webhookSecrets.get(1)));
            }
        }
        return b.toString();
    }
}
