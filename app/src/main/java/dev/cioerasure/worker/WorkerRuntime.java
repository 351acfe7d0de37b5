package dev.cioerasure.worker;

import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.audit.AuditLog;
import dev.cioerasure.audit.AuditWriter;
import dev.cioerasure.audit.Databases;
import dev.cioerasure.audit.OutcomeLookup;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.audit.SubjectKeyFingerprint;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.customerio.AppClient;
import dev.cioerasure.customerio.AppEndpoint;
import dev.cioerasure.customerio.BatchClient;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackEndpoint;
import dev.cioerasure.erasure.BatchingTrack;
import dev.cioerasure.erasure.ErasureExecutor;
import dev.cioerasure.erasure.VerificationExecutor;
import dev.cioerasure.erasure.Workspaces;
import dev.cioerasure.evidence.SigningKey;
import dev.cioerasure.erasure.TrackPolicy;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.metrics.Metrics;
import dev.cioerasure.metrics.MetricsServer;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.preflight.SchemaAccess;
import dev.cioerasure.preflight.ServiceProblem;
import dev.cioerasure.request.RequestParser;
import dev.cioerasure.threads.DaemonThreads;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.producer.Producer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A whole running worker assembled from {@link Settings}: connection pool, Track client with
 * its rate limiter and retry, the consumer loop on its own thread, and the metrics/health
 * endpoint. Used by the {@code worker} and {@code demo} commands and by integration tests.
 */
public final class WorkerRuntime implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WorkerRuntime.class);

    /** How much longer a Track call without a response holds its slot of the arrival window (its request may still arrive). */
    static final Duration UNANSWERED_GRACE = Duration.ofSeconds(2);

    private final PrometheusMeterRegistry meters;
    private final HikariDataSource dataSource;
    private volatile ErasureWorker worker;
    private final MetricsServer metricsServer;
    private final Thread thread;
    private final Settings settings;
    /** What start-up is doing, for /health/ready until the consumer loop exists. */
    private volatile String stage = "starting";

    private WorkerRuntime(Settings s, Clock clock) throws IOException {
        this.settings = s;
        this.meters = Metrics.prometheus(ErasureWorker.kafkaClientSeriesFilter(s.kafka()));
        // The port first: a busy METRICS_PORT stops start-up before any client is created, and a
        // probe or scrape is answered (503 with the stage) while start-up waits for Kafka.
        try {
            this.metricsServer = new MetricsServer(s.worker().metricsPort(), meters, () -> worker != null && worker.isLive(),
                    () -> worker == null ? java.util.Optional.of(stage) : worker.notReadyReason());
        } catch (IOException e) {
            throw Preflight.port("METRICS_PORT", s.worker().metricsPort(), e);
        }
        log.info("metrics and health on http://localhost:{}/metrics", metricsServer.port());
        // From the first scrape: a worker whose start-up hangs (a lock on the database, say) is up
        // and reads 0, so ErasureWorkerNotReady fires; the series absent would alert nobody.
        Gauge.builder(MetricNames.READY, this, r -> r.worker != null && r.worker.isReady() ? 1 : 0)
                .description("1 when the worker is ready (0 while it starts)").register(meters);
        try {
            awaitKafka(s);
        } catch (RuntimeException e) {
            metricsServer.close();
            throw e;
        }
        stage = "starting: checking the audit database";
        this.dataSource = Databases.pool(s.database(), "audit", meters, Databases.WORKER_SOCKET_TIMEOUT);
        java.util.Map<java.net.URI, dev.cioerasure.customerio.TrackResult> trackUrlAnswers;
        try {
            checkSchema(); // before any client or thread: a refusal is then the one line the command prints
            trackUrlAnswers = trackUrlsCheckCredentials(s);
        } catch (RuntimeException e) {
            metricsServer.close();
            dataSource.close();
            throw e;
        }
        this.worker = assemble(s, workspaces(s, meters, clock, trackUrlAnswers), dataSource, meters, clock);
        this.thread = new Thread(worker, "erasure-consumer");
    }

    /**
     * Each configured workspace's Track client and executor (its own limiter, breaker, credential
     * gate and key file), its meters tagged with the workspace's name. With several workspaces a
     * paused one does not hold threads: its steps return PAUSED and the request waits on the retry topic.
     *
     * @param trackUrlAnswers the start's credential check with a made-up key, by Track URL: the
     *                        first answer of each URL's {@link dev.cioerasure.customerio.TrackUrlWatch}
     */
    static Workspaces workspaces(Settings s, MeterRegistry meters, Clock clock,
                                 java.util.Map<java.net.URI, dev.cioerasure.customerio.TrackResult> trackUrlAnswers) {
        boolean several = s.workspaces().size() > 1;
        // no call to a Track URL that has not refused a made-up key within the hour: one watch per URL
        java.util.Map<String, dev.cioerasure.customerio.TrackUrlWatch> watches = new java.util.HashMap<>();
        List<Workspaces.Workspace> out = new java.util.ArrayList<>();
        // a key file rewritten later to name another workspace's site id: that workspace's calls are held back
        dev.cioerasure.customerio.SiteIdGuard guard = new dev.cioerasure.customerio.SiteIdGuard(s.workspaces().stream()
                .map(w -> new dev.cioerasure.customerio.SiteIdGuard.Member(w.name(), w.customerIo().baseUrl(), w.customerIo().siteId(),
                        w.customerIo().apiKey())).toList());
        for (Settings.Workspace w : s.workspaces()) {
            Settings.CustomerIo cio = w.customerIo();
            MeterRegistry tagged = Metrics.forWorkspace(meters, w.name());
            TrackEndpoint endpoint = new TrackEndpoint(cio.baseUrl(), cio.siteId(), cio.apiKey(), cio.connectTimeout(),
                    cio.requestTimeout());
            dev.cioerasure.customerio.TrackUrlWatch watch = watches.computeIfAbsent(
                    Settings.CustomerIo.baseUrlKey(cio.baseUrl()), url -> {
                        dev.cioerasure.customerio.TrackUrlWatch made = dev.cioerasure.customerio.TrackUrlWatch.of(cio.baseUrl(),
                                cio.connectTimeout(), cio.requestTimeout(), clock);
                        java.util.Optional.ofNullable(trackUrlAnswers.get(cio.baseUrl())).ifPresent(made::answered);
                        return made;
                    });
            TrackPolicy policy = new TrackPolicy(cio.rateLimitPerSecond(), cio.maxAttempts(), Duration.ofMillis(250), Duration.ofSeconds(30),
                    cio.breakerOpenFor(), cio.breakerOpenFor(), cio.rateHeadroomPercent(), UNANSWERED_GRACE);
            ErasureExecutor executor = cio.batch().enabled()
                    ? new ErasureExecutor(new BatchingTrack(BatchClient.http(endpoint, clock, guard, w.name(), watch), cio.batch().maxItems(),
                            cio.batch().maxWait(),
                            cio.rateLimitPerSecond(), cio.rateHeadroomPercent(), UNANSWERED_GRACE, tagged), policy, tagged,
                            several ? w.name() : null, !several)
                    : new ErasureExecutor(TrackClient.http(endpoint, clock, guard, w.name(), watch), policy, tagged, several ? w.name() : null,
                            !several);
            Secret key = cio.apiKey();
            Gauge.builder(MetricNames.CREDENTIALS_AGE, key, k -> k.lastWritten() == null ? Double.NaN
                            : Duration.between(k.lastWritten(), clock.instant()).toSeconds())
                    .description("Age of the Track API key file (time since it was last rotated)").baseUnit("seconds").register(tagged);
            out.add(new Workspaces.Workspace(w.name(), executor, cio.verification().enabled()));
        }
        return new Workspaces(out);
    }

    /**
     * The consumer loop and everything it works with: the one place the worker's object graph is
     * built. The worker owns the parts from here on.
     */
    static ErasureWorker assemble(Settings s, Workspaces workspaces, DataSource dataSource, MeterRegistry meters, Clock clock) {
        KafkaClients kafka = new KafkaClients(s.kafka());
        return assemble(s, ErasureWorker.consumer(kafka, s.worker()), ErasureWorker.producer(kafka, s.worker()), workspaces, dataSource,
                meters, clock);
    }

    /** With the given Kafka clients and the single workspace's executor (tests hand in Kafka's mock clients: the loop without a broker). */
    static ErasureWorker assemble(Settings s, Consumer<byte[], byte[]> consumer, Producer<byte[], byte[]> producer,
                                  ErasureExecutor executor, DataSource dataSource, MeterRegistry meters, Clock clock) {
        return assemble(s, consumer, producer, Workspaces.single(s.workspaces().get(0).name(), executor,
                s.customerIo().verification().enabled()), dataSource, meters, clock);
    }

    /** With the given Kafka clients. */
    static ErasureWorker assemble(Settings s, Consumer<byte[], byte[]> consumer, Producer<byte[], byte[]> producer,
                                  Workspaces workspaces, DataSource dataSource, MeterRegistry meters, Clock clock) {
        String instance = s.worker().instanceId();
        AuditWriter auditWriter = new AuditWriter(dataSource, instance, meters);
        OutcomeLookup outcomeLookup = new OutcomeLookup(dataSource);
        // When to check is shared; each workspace with an App API key is checked with its own key.
        Settings.Verification verification = s.workspaces().stream().map(w -> w.customerIo().verification())
                .filter(Settings.Verification::enabled).findFirst().orElse(s.customerIo().verification());
        Republisher republisher = new Republisher(producer, s.kafka().dlqTopic(), s.kafka().retryTopic(),
                verification.enabled() ? s.kafka().verifyTopic() : null, instance, meters);
        // Records hold no thread while they wait; the pool sends what follows a durable row (outcome
        // events, verification and DLQ records), which may block on Kafka metadata: as many as in flight.
        ExecutorService pool = Executors.newFixedThreadPool(s.worker().maxInFlight(), DaemonThreads.numbered("erasure-"));
        SubjectHasher hasher = new SubjectHasher(s.audit().subjectKey());
        OutcomeEvents events = new OutcomeEvents(republisher, s.kafka().outcomesTopic());
        // stateless: the erasures and the checks share it; it rejects requests naming a workspace not configured
        RequestParser parser = new RequestParser(clock, workspaces.names());
        RecordProcessor processor = new RecordProcessor(parser, hasher, workspaces,
                auditWriter, outcomeLookup, republisher, s.worker().retryDelays(), verification, events, pool, meters, clock);
        AuditLog auditLog = new AuditLog(dataSource);
        VerificationProcessor.registerMeters(meters, workspaces.names());
        // The group's rate budgets, leased from PostgreSQL: each workspace's Track budget (shared by
        // backlog) and, when it verifies, its App API budget.
        AtomicLong backlog = new AtomicLong(-1);
        List<GroupRateBudget> budgets = new java.util.ArrayList<>();
        java.util.Map<String, VerificationExecutor> checks = new java.util.HashMap<>();
        for (Settings.Workspace w : s.workspaces()) {
            Workspaces.Workspace ws = workspaces.get(w.name());
            MeterRegistry tagged = Metrics.forWorkspace(meters, w.name());
            Settings.CustomerIo cio = w.customerIo();
            // v1: two requests a record; batches: a record's share of two requests is far below one, and one
            // per record of the backlog only asks for more than is used (the grant follows what is occupied)
            budgets.add(new GroupRateBudget(dataSource, GroupRateBudget.budgetName(GroupRateBudget.TRACK, w.name()),
                    cio.batch().enabled() ? 1 : 2, instance, cio.rateLimitPerSecond(), UNANSWERED_GRACE, ws.executor(), backlog::get));
            Gauge.builder(MetricNames.RATE_LIMIT, ws.executor(), ErasureExecutor::callsPerSecond)
                    .description("Track calls per second this instance may make: its grant of the workspace's Track rate limit")
                    .register(tagged);
            Settings.Verification v = cio.verification();
            if (v.enabled()) {
                // Its own client, limit, retry and breaker, and its own threads: never an erasure's.
                VerificationExecutor check = new VerificationExecutor(AppClient.http(new AppEndpoint(cio.appBaseUrl(),
                        v.appKey(), cio.connectTimeout(), cio.requestTimeout()), clock),
                        AppClient.http(AppEndpoint.madeUp(cio.appBaseUrl(), cio.connectTimeout(), cio.requestTimeout()), clock),
                        v.controlPersonId() == null ? null : dev.cioerasure.request.Identifier.id(v.controlPersonId().reveal()),
                        v.rateLimitPerSecond(), cio.maxAttempts(), Duration.ofMillis(500), Duration.ofSeconds(30),
                        cio.breakerOpenFor(), UNANSWERED_GRACE, tagged, workspaces.several() ? w.name() : null);
                budgets.add(new GroupRateBudget(dataSource, GroupRateBudget.budgetName(GroupRateBudget.APP, w.name()), 1, instance,
                        v.rateLimitPerSecond(), UNANSWERED_GRACE, check, () -> -1));
                Gauge.builder(MetricNames.APP_RATE_LIMIT, check, VerificationExecutor::callsPerSecond)
                        .description("App API look-ups per second this instance may make: its grant of the workspace's App API rate limit")
                        .register(tagged);
                checks.put(w.name(), check);
            }
        }
        VerificationProcessor verifier = null;
        if (!checks.isEmpty()) {
            verifier = new VerificationProcessor(parser, hasher, checks, workspaces.several() ? null : workspaces.names().get(0),
                    auditWriter, auditLog::verificationStanding, republisher, events, verification, Executors.newFixedThreadPool(4, DaemonThreads.numbered("verify-")), meters, clock);
        }
        return new ErasureWorker(new ErasureWorker.Parts(s.kafka(), s.worker(), consumer, producer,
                auditWriter, auditLog, outcomeLookup, republisher, processor, pool, budgets,
                new BacklogMonitor(s.kafka(), instance, meters, clock), checkpoints(s, dataSource, producer, meters, clock), backlog,
                verifier, meters, clock, instanceIdRelease(s, clock)));
    }

    /** For a static member of a group run by the consumer protocol: waits for its id before joining (InstanceIdRelease). */
    private static InstanceIdRelease instanceIdRelease(Settings s, Clock clock) {
        if (!s.worker().staticMembership() || !s.kafka().client().consumerGroupProtocol()) {
            return null;
        }
        KafkaClients kafka = new KafkaClients(s.kafka());
        String groupId = s.kafka().groupId();
        return new InstanceIdRelease(instanceId -> {
            try (org.apache.kafka.clients.admin.Admin admin = kafka.admin("cio-erasure-" + instanceId + "-join", Duration.ofSeconds(5))) {
                return admin.describeConsumerGroups(List.of(groupId)).all().get(10, java.util.concurrent.TimeUnit.SECONDS).get(groupId)
                        .members().stream().anyMatch(m -> m.groupInstanceId().filter(instanceId::equals).isPresent());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            } catch (Exception e) {
                return false; // not known: the join tries, and says what it meets
            }
        }, groupId, s.worker().instanceId(), clock);
    }

    /** Signed checkpoints of the audit chain when AUDIT_SIGNING_KEY_FILE is set; null otherwise. */
    private static ChainCheckpoints checkpoints(Settings s, DataSource dataSource, Producer<byte[], byte[]> producer, MeterRegistry meters,
                                                Clock clock) {
        Settings.Checkpoints c = s.audit().checkpoints();
        ChainCheckpoints.registerMeters(meters);
        if (!c.enabled()) {
            return null;
        }
        SigningKey key;
        try {
            key = SigningKey.read(c.signingKey());
        } catch (IOException | IllegalArgumentException e) {
            throw Preflight.config("AUDIT_SIGNING_KEY_FILE: " + (e instanceof IOException ? "cannot read it" : e.getMessage()));
        }
        return new ChainCheckpoints(c, key, dataSource, producer, s.worker().instanceId(), meters, clock);
    }

    /**
     * Binds the monitoring port, checks the services and the audit schema, then starts consuming.
     *
     * @throws ServiceProblem (a setting) when the database lacks this release's tables or the login its role
     * @throws IllegalStateException when the audit table was written with another subject key
     */
    public static WorkerRuntime start(Settings s, Clock clock) throws IOException {
        WorkerRuntime r = prepare(s, clock);
        r.startConsuming();
        return r;
    }

    /**
     * Everything {@link #start} does but starting the consumer loop: no record is taken until
     * {@link #startConsuming()}, so a stop requested before then has nothing to finish.
     */
    public static WorkerRuntime prepare(Settings s, Clock clock) throws IOException {
        return new WorkerRuntime(s, clock);
    }

    /** Starts the consumer loop of a {@link #prepare prepared} runtime. */
    public void startConsuming() {
        thread.start();
    }

    /**
     * An unresolvable broker address or a missing topic stops start-up; a broker that does not
     * answer yet is waited for up to 10 s, then the worker starts anyway (readiness and the log say so).
     */
    private void awaitKafka(Settings s) {
        stage = "starting: waiting for Kafka at " + s.kafka().bootstrapServers();
        try {
            // what the worker does with each topic, checked against the cluster's authorizer (docs/operations.md, the ACLs)
            var read = org.apache.kafka.common.acl.AclOperation.READ;
            var write = org.apache.kafka.common.acl.AclOperation.WRITE;
            java.util.Map<String, java.util.Set<org.apache.kafka.common.acl.AclOperation>> topics = new java.util.LinkedHashMap<>();
            topics.put(s.kafka().topic(), java.util.Set.of(read));
            topics.put(s.kafka().retryTopic(), java.util.Set.of(read, write));
            topics.put(s.kafka().dlqTopic(), java.util.Set.of(write));
            if (s.workspaces().stream().anyMatch(w -> w.customerIo().verification().enabled())) {
                topics.put(s.kafka().verifyTopic(), java.util.Set.of(read, write));
            }
            if (s.kafka().outcomesTopic() != null) {
                topics.put(s.kafka().outcomesTopic(), java.util.Set.of(write));
            }
            if (s.audit().checkpoints().enabled() && s.audit().checkpoints().topic() != null) {
                topics.put(s.audit().checkpoints().topic(), java.util.Set.of(write));
            }
            Preflight.kafka(s.kafka(), Duration.ofSeconds(10), topics,
                    "ERASURE_TOPIC (its .retry, .dlq and, with CUSTOMERIO_APP_API_KEY, .verify topics), ERASURE_OUTCOMES_TOPIC or AUDIT_CHECKPOINT_TOPIC");
            // the topics it reads requests from (the checkpoint topic is compacted on purpose), and
            // how long a record may wait in each: a retry record until its round, a check until the next
            java.util.Map<String, Duration> keepFor = new java.util.LinkedHashMap<>();
            keepFor.put(s.kafka().topic(), Duration.ZERO);
            keepFor.put(s.kafka().retryTopic(), s.worker().longestRetryDelay().orElse(Duration.ZERO));
            if (topics.containsKey(s.kafka().verifyTopic())) {
                keepFor.put(s.kafka().verifyTopic(), Settings.Verification.MAX_INTERVAL);
            }
            Preflight.topicsKeepTheirRecords(s.kafka(), Duration.ofSeconds(10), keepFor, "ERASURE_TOPIC");
        } catch (ServiceProblem p) {
            if (p.kind() == ServiceProblem.Kind.CONFIGURATION) {
                throw p;
            }
            log.warn("{}; the worker starts anyway and keeps trying", p.getMessage());
        }
    }

    /**
     * Whether what answers at each workspace's Track URL checks credentials: asked once at the
     * start with a made-up site id and key, which Customer.io refuses (401). Something that accepts it (a
     * catch-all mock, a sandbox left in the settings) is not Customer.io, and every suppress and
     * destroy sent there would be recorded SUCCEEDED, in a table nobody can correct, with nobody
     * erased: a setting (exit 78). No answer within a few seconds proves nothing either way, and
     * the worker starts: Customer.io being down is an outage it waits out, and no call goes to that
     * URL until it has refused the made-up key ({@link dev.cioerasure.customerio.TrackUrlWatch}).
     *
     * @return each URL's answer, for its watch
     */
    private static java.util.Map<java.net.URI, dev.cioerasure.customerio.TrackResult> trackUrlsCheckCredentials(Settings s) {
        java.util.Map<java.net.URI, dev.cioerasure.customerio.TrackResult> answers = new java.util.HashMap<>();
        boolean several = s.workspaces().size() > 1;
        // workspaces of one region share its URL: asked once; the URLs all at once (one blackholed
        // URL takes its 3 s connect timeout, and they added up one after another)
        java.util.Map<java.net.URI, java.util.concurrent.CompletableFuture<dev.cioerasure.customerio.TrackResult>> asked =
                new java.util.LinkedHashMap<>();
        java.util.concurrent.Executor ownThread = task -> {
            Thread t = new Thread(task, "track-url-check");
            t.setDaemon(true);
            t.start();
        };
        for (Settings.Workspace w : s.workspaces()) {
            asked.computeIfAbsent(w.customerIo().baseUrl(), url -> java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> TrackClient.checkWithMadeUpCredentials(url, Duration.ofSeconds(3), Duration.ofSeconds(5)), ownThread));
        }
        for (Settings.Workspace w : s.workspaces()) {
            Settings.CustomerIo cio = w.customerIo();
            java.util.concurrent.CompletableFuture<dev.cioerasure.customerio.TrackResult> check = asked.remove(cio.baseUrl());
            if (check == null) {
                continue;
            }
            dev.cioerasure.customerio.TrackResult r = check.join();
            answers.put(cio.baseUrl(), r);
            if (r.isSuccess()) {
                throw Preflight.config("CUSTOMERIO_TRACK_URL" + (several ? " of workspace " + w.name() : "") + ": " + cio.baseUrl()
                        + " answered HTTP " + r.status() + " to a credential check with a made-up key: it does not check Track"
                        + " credentials, so it is not Customer.io's Track API, and every suppress and destroy sent there would be"
                        + " recorded SUCCEEDED with nobody erased");
            }
        }
        return answers;
    }

    /**
     * The schema of this version, the writer's grants and the audit key the table was written with.
     * A wrong password, database or role stops the start (told at once by the preflight's own
     * connection, not after the pool's 5 s); a database that does not answer does not: the worker
     * waits for it.
     */
    private void checkSchema() {
        ServiceProblem problem;
        try {
            Preflight.database(settings.database());
            SchemaAccess.check(dataSource, settings.database(), SchemaAccess.Need.WORKER);
            SchemaAccess.beyondTheWriter(dataSource, settings.database().user()).ifPresent(log::warn);
            SubjectKeyFingerprint key = new SubjectKeyFingerprint(dataSource, new SubjectHasher(settings.audit().subjectKey()));
            if (key.recordIfNone() == SubjectKeyFingerprint.Match.DIFFERENT) {
                throw new IllegalStateException(SubjectKeyFingerprint.mismatch(key.stored().orElseThrow()));
            }
            return;
        } catch (ServiceProblem p) {
            problem = p;
        } catch (SQLException e) {
            problem = Preflight.explain(e, settings.database());
        }
        if (problem.kind() == ServiceProblem.Kind.CONFIGURATION) {
            throw problem;
        }
        log.warn("{}; the worker starts anyway and waits for the database (readiness is 503 meanwhile)", problem.getMessage());
    }

    public int metricsPort() {
        return metricsServer.port();
    }

    public PrometheusMeterRegistry meters() {
        return meters;
    }

    public ErasureWorker worker() {
        return worker;
    }

    /** Blocks until the consumer loop ends. */
    public void join() throws InterruptedException {
        thread.join();
    }

    /** Releases everything of a runtime that never started its loop. */
    @Override
    public void close() {
        worker.close();
        metricsServer.close();
        dataSource.close();
    }
}
