package dev.cioerasure.tools.bench;

import dev.cioerasure.audit.Migrations;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackEndpoint;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.RecordKeys;
import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.ParseResult;
import dev.cioerasure.request.Regulation;
import dev.cioerasure.request.RequestJson;
import dev.cioerasure.request.RequestParser;
import dev.cioerasure.testkit.embedded.EmbeddedDatabase;
import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The benchmark behind docs/benchmarks.md: a real broker, a real PostgreSQL and the Customer.io
 * sandbox on this machine, the worker as a separate JVM with a 256 MB heap. Every figure comes
 * from one run; ratios are against the ceiling (limit ÷ 2 calls per erasure) and against the
 * seed approach measured in the same run.
 */
public final class Benchmark {
    static final String SITE = "bench-site";
    static final String KEY = "bench-track-key";
    static final String AUDIT_KEY = "bench-audit-subject-key-0123456789";

    /**
     * One measured scenario. {@code p99WarmMs}: the p99 of the requests sent after the worker's
     * first {@value #WARM_UP_SECONDS} s of load (its JIT warm-up), next to {@code p99Ms} over all.
     */
    record Result(String name, int limit, int latencyMs, int requests, double erasuresPerSecond, double ceiling, long throttled,
                  double cpuMsPerErasure, long peakHeap, long peakRss, double p50Ms, double p99Ms, List<double[]> timeline,
                  long overWindow, TrackSandbox.Limit model, double p99WarmMs) {
        Result(String name, int limit, int latencyMs, int requests, double erasuresPerSecond, double ceiling, long throttled,
               double cpuMsPerErasure, long peakHeap, long peakRss, double p50Ms, double p99Ms, List<double[]> timeline,
               long overWindow, TrackSandbox.Limit model) {
            this(name, limit, latencyMs, requests, erasuresPerSecond, ceiling, throttled, cpuMsPerErasure, peakHeap, peakRss, p50Ms, p99Ms,
                    timeline, overWindow, model, Double.NaN);
        }

        Result(String name, int limit, int latencyMs, int requests, double erasuresPerSecond, double ceiling, long throttled,
               double cpuMsPerErasure, long peakHeap, long peakRss, double p50Ms, double p99Ms, List<double[]> timeline) {
            this(name, limit, latencyMs, requests, erasuresPerSecond, ceiling, throttled, cpuMsPerErasure, peakHeap, peakRss, p50Ms, p99Ms,
                    timeline, 0, TrackSandbox.Limit.TOKEN_BUCKET);
        }
    }

    /** Seconds of steady load at the start of a latency run whose requests the warm p99 leaves out. */
    static final int WARM_UP_SECONDS = 10;

    private final PrintStream out;
    private final Path workDir;
    private final EmbeddedKafka kafka;
    private final EmbeddedDatabase postgres;
    private final AtomicInteger seq = new AtomicInteger();
    private final SubjectHasher hasher = new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", AUDIT_KEY));
    /** Set by {@link #backlog}: how long the chain verification of the large table took. */
    String verifyReport = "";

    public Benchmark(PrintStream out, Path workDir, EmbeddedKafka kafka, EmbeddedDatabase postgres) {
        this.out = out;
        this.workDir = workDir;
        this.kafka = kafka;
        this.postgres = postgres;
    }

    String freshTopic(int partitions) throws Exception {
        String topic = "bench." + seq.incrementAndGet();
        kafka.createTopics(partitions, topic, topic + ".dlq", topic + ".retry", topic + ".outcomes");
        return topic;
    }

    String freshDatabase() throws Exception {
        String name = "bench_" + seq.incrementAndGet();
        try (Connection c = postgres.superuserDataSource().getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        String url = "jdbc:postgresql://localhost:" + postgres.port() + "/" + name;
        Migrations.migrate(dataSource(url));
        return url;
    }

    static DataSource dataSource(String url) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser("postgres");
        ds.setPassword("postgres");
        return ds;
    }

    private KafkaClients clients() {
        return new KafkaClients(new Settings.Kafka(kafka.bootstrapServers(), "bench", "bench"));
    }

    Producer<byte[], byte[]> producer() {
        return clients().producer("bench-producer", Map.of(ProducerConfig.LINGER_MS_CONFIG, 20, ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024));
    }

    ProducerRecord<byte[], byte[]> request(String topic, String prefix, int i) {
        Identifier id = i % 2 == 0 ? Identifier.email(prefix + "-person-" + i + "@example.com") : Identifier.id(prefix + "-customer-" + i);
        ErasureRequest r = new ErasureRequest(prefix + "-" + i, id, Regulation.GDPR, Instant.now().minusSeconds(60), "bench");
        return new ProducerRecord<>(topic, RecordKeys.forSubject(hasher.hash(id)), RequestJson.toBytes(r));
    }

    void produce(String topic, String prefix, int n) throws Exception {
        try (Producer<byte[], byte[]> p = producer()) {
            for (int i = 0; i < n; i++) {
                p.send(request(topic, prefix, i));
            }
            p.flush();
        }
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * {@code ERASURE_MAX_IN_FLIGHT} for a v1 worker paced at {@code limit} calls/s: half the limit,
     * at least 32 (operations.md, "Scaling out"). Enough persons that a call waits for every slot of
     * the window as it frees, although each person is also in flight for its look-up, its audit
     * writes and its outcome events, and the worker stops fetching at three quarters taken. At
     * 1000/s a quarter (250) left slots without a waiting call when the machine was busy: four
     * alternating 60 s runs read 0.903–0.949 (median 0.924) against 0.935–0.949 (median 0.943) with
     * 500. Far more only makes each erasure queue longer, and is redone after a kill: at 100/s, 256
     * in flight read 0.923–0.939 of the ceiling (each erasure queued 5 s, and the count of erasures
     * lagged the calls), 32 read 0.951–0.955 and 50 0.952–0.958 (docs/benchmarks-by-hand.md). A
     * by-hand run may set another number for every v1 worker it starts as {@code -Dbench.v1InFlight=N}.
     */
    static int inFlightFor(int limit) {
        Integer forced = Integer.getInteger("bench.v1InFlight");
        if (forced != null) {
            return forced;
        }
        return Math.max(32, limit / 2);
    }

    ChildWorker startWorker(String topic, String dbUrl, TrackSandbox sandbox, int rate, int inFlight) throws Exception {
        return startWorker(topic, dbUrl, sandbox, rate, inFlight, null);
    }

    /** A worker JVM; with an instance id it is a static member of the group and keeps its rate lease across restarts. */
    ChildWorker startWorker(String topic, String dbUrl, TrackSandbox sandbox, int rate, int inFlight, String instanceId) throws Exception {
        return startWorker(topic, dbUrl, sandbox, rate, inFlight, instanceId, Map.of());
    }

    /** The same with more settings (e.g. CUSTOMERIO_TRACK_API=batch). */
    ChildWorker startWorker(String topic, String dbUrl, TrackSandbox sandbox, int rate, int inFlight, String instanceId,
                            Map<String, String> more) throws Exception {
        Map<String, String> env = new HashMap<>(more);
        if (instanceId != null) {
            env.put("WORKER_INSTANCE_ID", instanceId);
        }
        env.put("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers());
        env.put("ERASURE_TOPIC", topic);
        env.put("ERASURE_GROUP_ID", "bench-" + topic);
        // announced, as in production (BENCH_OUTCOMES=none measures without)
        env.put("ERASURE_OUTCOMES_TOPIC", "none".equals(System.getenv("BENCH_OUTCOMES")) ? "none" : topic + ".outcomes");
        env.put("DATABASE_URL", dbUrl);
        env.put("DATABASE_USER", "postgres");
        env.put("DATABASE_PASSWORD", "postgres");
        env.put("CUSTOMERIO_SITE_ID", SITE);
        env.put("CUSTOMERIO_TRACK_API_KEY", KEY);
        env.put("CUSTOMERIO_TRACK_URL", sandbox.baseUrl().toString());
        env.put("CUSTOMERIO_RATE_LIMIT_PER_SECOND", Integer.toString(rate));
        env.put("AUDIT_SUBJECT_KEY", AUDIT_KEY);
        env.put("ERASURE_MAX_IN_FLIGHT", Integer.toString(inFlight));
        env.put("LOG_LEVEL", System.getenv().getOrDefault("BENCH_WORKER_LOG_LEVEL", "WARN"));
        return new ChildWorker(env, "256m", freePort(), workDir.resolve("worker-" + topic + (instanceId == null ? "" : "-" + instanceId) + ".log"));
    }

    /**
     * The number of COMPLETED outcomes, counted from the rows appended since the last count (in
     * chain order: every append holds the chain head's lock until it commits, so each snapshot
     * sees a prefix of the chain). A count of all of them every 200 ms read the whole history
     * each time (183-275 ms a count near 100,000 rows, with auto_explain on): CPU taken from the
     * worker and the PostgreSQL it measures, more the longer the run. On one connection that may
     * read through indexes only: a table that autovacuum has not analysed yet (most of a one-minute
     * run) had the planner estimate a third of the table newer than the last count, and read all of
     * it with two parallel workers, 300-450 ms for each count at 190,000-270,000 rows.
     */
    static final class CompletedCount implements AutoCloseable {
        private final Connection c;
        private final PreparedStatement ps;
        private long seenUpTo;
        private int count;

        CompletedCount(DataSource ds) throws SQLException {
            c = ds.getConnection();
            try (Statement st = c.createStatement()) {
                st.execute("SET enable_seqscan = off");
                st.execute("SET max_parallel_workers_per_gather = 0");
            }
            ps = c.prepareStatement("SELECT count(*) FILTER (WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'),"
                    + " max(chain_seq) FROM audit_event WHERE chain_seq > ?");
        }

        int now() throws SQLException {
            ps.setLong(1, seenUpTo);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                count += rs.getInt(1);
                long top = rs.getLong(2);
                if (!rs.wasNull()) {
                    seenUpTo = top;
                }
            }
            return count;
        }

        @Override
        public void close() throws SQLException {
            c.close();
        }
    }

    /** Completion times (epoch seconds, fractional) of every COMPLETED outcome, sorted. */
    static double[] completionTimes(DataSource ds) throws Exception {
        return completionTimes(ds, null);
    }

    /** The same for the requests whose ids start with {@code prefix}- only (all of them when null). */
    static double[] completionTimes(DataSource ds, String prefix) throws Exception {
        List<Double> t = new ArrayList<>();
        try (Connection c = ds.getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT extract(epoch FROM recorded_at) FROM audit_event"
                     + " WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'"
                     + (prefix == null ? "" : " AND request_id LIKE '" + prefix + "-%'") + " ORDER BY recorded_at")) {
            while (rs.next()) {
                t.add(rs.getDouble(1));
            }
        }
        return t.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** Erasures/s between the 10 % and 90 % completion marks: the sustained rate, without ramp-up and tail. */
    static double sustainedRate(double[] times) {
        int a = times.length / 10;
        int b = times.length * 9 / 10;
        return (b - a) / Math.max(1e-9, times[b] - times[a]);
    }

    static List<double[]> timeline(double[] times) {
        List<double[]> perSecond = new ArrayList<>();
        if (times.length == 0) {
            return perSecond;
        }
        double start = Math.floor(times[0]);
        int[] counts = new int[(int) (times[times.length - 1] - start) + 1];
        for (double t : times) {
            counts[(int) (t - start)]++;
        }
        for (int i = 0; i < counts.length; i++) {
            perSecond.add(new double[] {i, counts[i]});
        }
        return perSecond;
    }

    void awaitCompleted(DataSource ds, int n, Duration timeout, String what) throws Exception {
        awaitCompleted(ds, n, timeout, what, null);
    }

    /** Worker CPU per erasure over part of a run, and the part of it the JIT compiler threads took. */
    record CpuPerErasure(double ms, double jitMs) {
        static final CpuPerErasure UNKNOWN = new CpuPerErasure(Double.NaN, Double.NaN);
    }

    /**
     * The same, and the worker's CPU per erasure in its steady state: between the first poll past
     * 25 % of {@code n} and the first past 90 %, so start-up and most of the JIT's warm-up are left
     * out. UNKNOWN without a worker, or when one poll saw both marks pass.
     */
    CpuPerErasure awaitCompleted(DataSource ds, int n, Duration timeout, String what, ChildWorker w) throws Exception {
        try (CompletedCount completed = new CompletedCount(ds)) {
            return awaitCompleted(completed, n, timeout, what, w);
        }
    }

    private CpuPerErasure awaitCompleted(CompletedCount completed, int n, Duration timeout, String what, ChildWorker w) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextReport = System.nanoTime() + 10_000_000_000L;
        int doneAtMark = 0;
        Duration cpuAtMark = null;
        Duration jitAtMark = null;
        CpuPerErasure steady = CpuPerErasure.UNKNOWN;
        while (true) {
            int done = completed.now();
            if (w != null && cpuAtMark == null && done >= n / 4 && done < n) {
                cpuAtMark = w.cpu();
                jitAtMark = w.jitCpu();
                doneAtMark = done;
            } else if (w != null && cpuAtMark != null && steady == CpuPerErasure.UNKNOWN && done >= n * 9L / 10) {
                steady = new CpuPerErasure(w.cpu().minus(cpuAtMark).toNanos() / 1e6 / (done - doneAtMark),
                        w.jitCpu().minus(jitAtMark).toNanos() / 1e6 / (done - doneAtMark));
            }
            if (done >= n) {
                return steady;
            }
            ChildWorker.checkAlive();
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + ": only " + done + " of " + n + " completed within " + timeout);
            }
            if (System.nanoTime() > nextReport) {
                out.printf("    … %d/%d%n", done, n);
                nextReport = System.nanoTime() + 10_000_000_000L;
            }
            Thread.sleep(200);
        }
    }

    /** Backlog first, then the worker drains it at the rate limit against a sandbox with the given latency. */
    Result ceiling(int limit, int latencyMs, int seconds) throws Exception {
        return ceiling(limit, latencyMs, seconds, TrackSandbox.Limit.TOKEN_BUCKET);
    }

    /** The same against a sandbox that counts its limit the given way. */
    Result ceiling(int limit, int latencyMs, int seconds, TrackSandbox.Limit model) throws Exception {
        int n = limit / 2 * seconds;
        String topic = freshTopic(6);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        produce(topic, "c" + limit, n);
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, latencyMs, limit, 0, false).with(model))) {
            Duration cpu0;
            long t0 = System.nanoTime();
            try (ChildWorker w = startWorker(topic, db, sandbox, limit, inFlightFor(limit))) {
                cpu0 = w.cpu();
                awaitCompleted(ds, n, Duration.ofSeconds(seconds * 4L + 60), "ceiling " + limit);
                double[] times = completionTimes(ds);
                double rate = sustainedRate(times);
                double cpuMs = (w.cpu().minus(cpu0).toNanos() / 1e6) / n;
                out.printf("    %d erasures in %.1f s wall, %d Track calls accepted (%.3f an erasure)%n", n, (System.nanoTime() - t0) / 1e9,
                        sandbox.accepted(), sandbox.accepted() / (double) n);
                String server = model == TrackSandbox.Limit.SLIDING_WINDOW ? "strict sliding window" : "token bucket";
                return new Result("limit " + limit + "/s, " + latencyMs + " ms latency, " + server, limit, latencyMs, n, rate, limit / 2.0,
                        sandbox.throttled(), cpuMs, w.peakHeapBytes(), w.peakRssBytes(), Double.NaN, Double.NaN, timeline(times),
                        sandbox.overWindow(), model);
            }
        }
    }

    /**
     * Three worker JVMs share one limit against the strict sliding-window sandbox; half of the
     * requests have one key (one partition), and every {@code killEvery} seconds one of the
     * instances is killed (kill -9) and started again under its id. The group forms first and
     * the backlog is produced once all three own partitions: this measures how the group shares
     * its budget, not how fast JVMs start and join.
     */
    GroupResult group(int limit, int latencyMs, int seconds, int killEvery) throws Exception {
        return group(limit, latencyMs, limit / 2 * seconds, seconds, killEvery, Map.of(), "", 0);
    }

    /**
     * The same without kills, after a warm-up: the three JVMs first drain 10 s worth of requests
     * at the ceiling (their JIT compiles meanwhile), then the measured backlog is produced. The
     * rate is that of the measured requests only.
     */
    GroupResult warmGroup(int limit, int latencyMs, int seconds) throws Exception {
        return group(limit, latencyMs, limit / 2 * seconds, seconds, 0, Map.of(), "", limit / 2 * 10);
    }

    /** The same in batch mode: {@code n} requests, the limit counting batch requests. */
    GroupResult batchGroup(int limit, int latencyMs, int n, int killEvery) throws Exception {
        return group(limit, latencyMs, n, n / 500, killEvery, Map.of("CUSTOMERIO_TRACK_API", "batch", "CUSTOMERIO_BATCH_MAX_ITEMS", "200"),
                "batch mode, ", 0);
    }

    private GroupResult group(int limit, int latencyMs, int n, int seconds, int killEvery, Map<String, String> more, String label,
                         int warmUp) throws Exception {
        String topic = freshTopic(6);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, latencyMs, limit, 0, false)
                .with(TrackSandbox.Limit.SLIDING_WINDOW))) {
            ChildWorker[] workers = new ChildWorker[3];
            for (int i = 0; i < 3; i++) {
                workers[i] = startWorker(topic, db, sandbox, limit, inFlightFor(limit), "bench-g" + i, more);
            }
            awaitGroupFormed("bench-" + topic, 3, Duration.ofSeconds(90));
            if (warmUp > 0) {
                out.printf("    warming up: %d requests first …%n", warmUp);
                produceSkewed(topic, "gw", warmUp);
                awaitCompleted(ds, warmUp, Duration.ofSeconds(seconds * 6L + 120), "group warm-up");
            }
            produceSkewed(topic, "g", n);
            int total = n + warmUp; // the count includes the warm-up's
            int kills = 0;
            try (CompletedCount completed = new CompletedCount(ds)) {
                long nextKill = System.nanoTime() + killEvery * 1_000_000_000L;
                long deadline = System.nanoTime() + Duration.ofSeconds(seconds * 6L + 120).toNanos();
                while (completed.now() < total) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("group: only " + completed.now() + " of " + total + " completed in time");
                    }
                    if (killEvery > 0 && System.nanoTime() > nextKill) {
                        int victim = kills % 3;
                        workers[victim].kill();
                        workers[victim] = startWorker(topic, db, sandbox, limit, inFlightFor(limit), "bench-g" + victim, more);
                        kills++;
                        nextKill = System.nanoTime() + killEvery * 1_000_000_000L;
                    }
                    Thread.sleep(200);
                }
            } finally {
                for (ChildWorker w : workers) {
                    w.close();
                }
            }
            double[] times = completionTimes(ds, "g");
            if (System.getenv("BENCH_TIMELINE") != null) {
                StringBuilder line = new StringBuilder("    per second:");
                for (double[] point : timeline(times)) {
                    line.append(' ').append((int) point[1]);
                }
                out.println(line);
            }
            out.printf("    %d erasures, %d kills, %d calls over the window, %d 429s%n", n, kills, sandbox.overWindow(), sandbox.throttled());
            String how = warmUp > 0 ? "after a warm-up of " + warmUp + " requests, no kills"
                    : killEvery > 0 ? "one killed every " + killEvery + " s (" + kills + (kills == 1 ? " kill)" : " kills)") : "no kills";
            boolean batches = "batch".equals(more.get("CUSTOMERIO_TRACK_API"));
            long trackRequests = batches ? sandbox.batchRequests() : sandbox.accepted();
            Result r = new Result(label + "3 instances, " + limit + "/s, " + latencyMs + " ms, skewed keys, " + how + ", strict sliding window",
                    limit, latencyMs, n, sustainedRate(times), limit / 2.0,
                    sandbox.throttled(), Double.NaN, 0, 0, Double.NaN, Double.NaN, timeline(times), sandbox.overWindow(),
                    TrackSandbox.Limit.SLIDING_WINDOW);
            return new GroupResult(r, (double) trackRequests / total);
        }
    }

    /**
     * A group run and the Track requests (calls in v1, batch requests in batch mode) it sent per
     * erasure, warm-up included.
     */
    record GroupResult(Result result, double requestsPerErasure) {
        /** The share of the group's budget its sustained rate used: Track requests a second ÷ the limit. */
        double budgetShare() {
            return result.erasuresPerSecond() * requestsPerErasure / result.limit();
        }
    }

    /** {@code n} requests, half of them under one key (one partition holds half the work). */
    private void produceSkewed(String topic, String prefix, int n) throws Exception {
        try (Producer<byte[], byte[]> p = producer()) {
            for (int i = 0; i < n; i++) {
                ProducerRecord<byte[], byte[]> r = request(topic, prefix, i);
                p.send(i % 2 == 0 ? new ProducerRecord<>(topic, "hot".getBytes(StandardCharsets.UTF_8), r.value()) : r);
            }
            p.flush();
        }
    }

    /** Waits until the consumer group has {@code members} members that each own a partition. */
    private void awaitGroupFormed(String groupId, int members, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Admin admin = clients().admin("bench-group-watch", Duration.ofSeconds(10))) {
            while (true) {
                ChildWorker.checkAlive();
                long owning = 0;
                try {
                    ConsumerGroupDescription g = admin.describeConsumerGroups(List.of(groupId)).all().get().get(groupId);
                    owning = g.members().stream().filter(m -> !m.assignment().topicPartitions().isEmpty()).count();
                    if (g.groupState() == GroupState.STABLE && owning >= members) {
                        return;
                    }
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof GroupIdNotFoundException)) {
                        throw e;
                    }
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("group " + groupId + ": " + owning + " of " + members + " members own partitions after "
                            + timeout);
                }
                Thread.sleep(200);
            }
        }
    }

    /** Unlimited, zero-latency sandbox: the worker's own ceiling and CPU per erasure. */
    Result overhead(int n) throws Exception {
        String topic = freshTopic(6);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        produce(topic, "o", n);
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, 0, 0, 0, false))) {
            try (ChildWorker w = startWorker(topic, db, sandbox, 100_000, 256)) {
                awaitCompleted(ds, n, Duration.ofMinutes(10), "overhead");
                double[] times = completionTimes(ds);
                Duration cpu = w.cpu();
                return new Result("unlimited, 0 ms latency", 0, 0, n, sustainedRate(times), Double.NaN, 0,
                        cpu.toNanos() / 1e6 / n, w.peakHeapBytes(), w.peakRssBytes(), Double.NaN, Double.NaN, timeline(times));
            }
        }
    }

    /** One measured batch-mode run: the erasures and the batch requests they took. */
    record BatchResult(Result result, long batchRequests, double meanItems, CpuPerErasure steadyCpu) {
        double requestsPerErasure() {
            return (double) batchRequests / result.requests();
        }
    }

    /**
     * {@code ERASURE_MAX_IN_FLIGHT} for a batch-mode worker. While the worker keeps up, an erasure
     * spends about a third of a second in flight (collected into a batch, two batch requests of
     * 50 ms, an audit write after each), so the rate is about in-flight ÷ 0.33 s until the CPU is
     * the limit. Over 100,000 requests with migration V11 (2026-12-05): 512 in flight drained 1,545
     * erasures/s, 1,024 1,896, 2,048 1,820 at more CPU per erasure (0.31 against 0.27 ms in the
     * steady state); 1,024 drained 1,992-2,083 once the duplicate check read by index only. See
     * docs/benchmarks-by-hand.md. {@code --batch-cost-only} and
     * {@code --batch-latency-only} take another number as {@code -Dbench.inFlight=N}.
     */
    static final int BATCH_IN_FLIGHT = 1024;

    /** {@link #BATCH_IN_FLIGHT}, or the number a by-hand run gave as {@code -Dbench.inFlight=N}. */
    static int batchInFlight() {
        return Integer.getInteger("bench.inFlight", BATCH_IN_FLIGHT);
    }

    /**
     * A backlog drained in batch mode ({@code CUSTOMERIO_TRACK_API=batch}) against the strict
     * sliding-window sandbox, whose limit then counts batch requests.
     */
    BatchResult batch(int limit, int latencyMs, int n, int maxItems, int inFlight) throws Exception {
        String topic = freshTopic(6);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        produce(topic, "b", n);
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, latencyMs, limit, 0, false)
                .with(TrackSandbox.Limit.SLIDING_WINDOW))) {
            long t0 = System.nanoTime();
            try (ChildWorker w = startWorker(topic, db, sandbox, limit, inFlight, null, Map.of("CUSTOMERIO_TRACK_API", "batch",
                    "CUSTOMERIO_BATCH_MAX_ITEMS", Integer.toString(maxItems)))) {
                Duration cpu0 = w.cpu();
                CpuPerErasure steady = awaitCompleted(ds, n, Duration.ofMinutes(10), "batch " + limit, w);
                double[] times = completionTimes(ds);
                double cpuMs = (w.cpu().minus(cpu0).toNanos() / 1e6) / n;
                out.printf("    %d erasures in %.1f s wall, %d batch requests%n", n, (System.nanoTime() - t0) / 1e9, sandbox.batchRequests());
                double meanItems = sandbox.batchSizes().stream().mapToInt(Integer::intValue).average().orElse(0);
                Result r = new Result("batch mode, limit " + limit + " requests/s, " + latencyMs + " ms latency, strict sliding window"
                        + " (≤ " + maxItems + " persons a batch, " + inFlight + " in flight)", limit, latencyMs, n, sustainedRate(times),
                        Double.NaN, sandbox.throttled(), cpuMs, w.peakHeapBytes(), w.peakRssBytes(), Double.NaN, Double.NaN, timeline(times),
                        sandbox.overWindow(), TrackSandbox.Limit.SLIDING_WINDOW);
                return new BatchResult(r, sandbox.batchRequests(), meanItems, steady);
            }
        }
    }

    /** Requests produced at a steady pace below the ceiling; produce → audit row latency per request. */
    Result latency(int limit, int latencyMs, double loadFactor, int seconds) throws Exception {
        return latency(limit, latencyMs, (int) (limit / 2 * loadFactor), seconds, inFlightFor(limit), Map.of(), "", 0);
    }

    /**
     * The same in batch mode, at {@code perSecond} requests produced a second (e.g. 80 % of the
     * batch ceiling measured before), against the strict window. The worker first drains
     * {@value #BATCH_LATENCY_WARM_UP} requests at full speed, so that the steady load meets a worker
     * whose JIT has compiled: at 80 % of a ceiling that the CPU sets, a cold JVM falls behind in
     * its first seconds and the queue it builds then takes the rest of the run to drain.
     */
    Result batchLatency(int limit, int latencyMs, int perSecond, int seconds) throws Exception {
        return latency(limit, latencyMs, perSecond, seconds, batchInFlight(),
                Map.of("CUSTOMERIO_TRACK_API", "batch", "CUSTOMERIO_BATCH_MAX_ITEMS", "200"), "batch mode, ", Integer.getInteger("bench.warmUp", BATCH_LATENCY_WARM_UP));
    }

    /** Requests a batch-mode worker drains before its latency is measured. */
    static final int BATCH_LATENCY_WARM_UP = 20_000;

    private Result latency(int limit, int latencyMs, int perSecond, int seconds, int inFlight, Map<String, String> more, String label,
                           int warmUp) throws Exception {
        String topic = freshTopic(6);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        int n = perSecond * seconds;
        Map<String, Long> sentAtMicros = new ConcurrentHashMap<>();
        if (warmUp > 0) {
            produce(topic, "w", warmUp);
        }
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, latencyMs, limit, 0, false)
                .with(more.isEmpty() ? TrackSandbox.Limit.TOKEN_BUCKET : TrackSandbox.Limit.SLIDING_WINDOW));
             ChildWorker w = startWorker(topic, db, sandbox, limit, inFlight, null, more);
             Producer<byte[], byte[]> p = producer()) {
            Thread.sleep(8000); // let the worker join the group first
            if (warmUp > 0) {
                awaitCompleted(ds, warmUp, Duration.ofMinutes(5), "warm-up");
            }
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                long due = start + (long) (i * 1e9 / perSecond);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                ProducerRecord<byte[], byte[]> r = request(topic, "l", i);
                Instant now = Instant.now();
                sentAtMicros.put("l-" + i, now.getEpochSecond() * 1_000_000 + now.getNano() / 1000);
                p.send(r);
            }
            p.flush();
            awaitCompleted(ds, warmUp + n, Duration.ofSeconds(seconds * 3L + 60), "latency");
            List<Double> lat = new ArrayList<>();
            List<Double> warm = new ArrayList<>();
            try (Connection c = ds.getConnection(); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("SELECT request_id, (extract(epoch FROM recorded_at) * 1000000)::bigint FROM audit_event"
                         + " WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")) {
                while (rs.next()) {
                    Long sent = sentAtMicros.get(rs.getString(1));
                    if (sent != null) {
                        double ms = (rs.getLong(2) - sent) / 1000.0;
                        lat.add(ms);
                        if (Integer.parseInt(rs.getString(1).substring(2)) >= perSecond * WARM_UP_SECONDS) {
                            warm.add(ms);
                        }
                    }
                }
            }
            if (Boolean.getBoolean("bench.perSecond")) {
                java.util.TreeMap<Integer, List<Double>> bySecond = new java.util.TreeMap<>();
                try (Connection c = ds.getConnection(); Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT request_id, (extract(epoch FROM recorded_at) * 1000000)::bigint FROM audit_event"
                             + " WHERE step = 'OUTCOME' AND outcome = 'COMPLETED' AND request_id LIKE 'l-%'")) {
                    while (rs.next()) {
                        int i = Integer.parseInt(rs.getString(1).substring(2));
                        bySecond.computeIfAbsent(i / perSecond, k -> new ArrayList<>()).add((rs.getLong(2) - sentAtMicros.get(rs.getString(1))) / 1000.0);
                    }
                }
                bySecond.forEach((sec, l) -> {
                    double[] x = l.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                    System.out.printf("  second %2d: p50 %5.0f  p99 %5.0f  max %5.0f ms%n", sec, percentile(x, 0.5), percentile(x, 0.99), x[x.length - 1]);
                });
            }
            double[] sorted = lat.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[] sortedWarm = warm.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return new Result(label + "at a steady " + perSecond + "/s with a limit of " + limit + " calls/s and " + latencyMs + " ms latency",
                    limit, latencyMs, n,
                    sustainedRate(completionTimes(ds)), limit / 2.0, sandbox.throttled(), Double.NaN, w.peakHeapBytes(), w.peakRssBytes(),
                    percentile(sorted, 0.50), percentile(sorted, 0.99), List.of(), 0, TrackSandbox.Limit.TOKEN_BUCKET,
                    percentile(sortedWarm, 0.99));
        }
    }

    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    /**
     * The seed approach, as a baseline in the same run: one request at a time — poll one record,
     * suppress, destroy, insert its audit row, commit — with a 100 ms sleep between requests.
     */
    Result seedBaseline(int latencyMs, int seconds) throws Exception {
        String topic = freshTopic(1);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        produce(topic, "s", 20 * seconds);
        RequestParser parser = new RequestParser(Clock.systemUTC());
        int done = 0;
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, latencyMs, 1000, 0, false));
             Consumer<byte[], byte[]> consumer = clients().consumer("bench-seed", Map.of(ConsumerConfig.GROUP_ID_CONFIG, "seed-" + topic,
                     ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest", ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 1));
             Connection c = ds.getConnection();
             PreparedStatement insert = c.prepareStatement("INSERT INTO audit_event (request_id, step, outcome, kafka_topic,"
                     + " kafka_partition, kafka_offset, worker_instance, occurred_at)"
                     + " VALUES (?, 'OUTCOME', 'COMPLETED', ?, ?, ?, 'seed', now())")) {
            TrackClient track = TrackClient.http(new TrackEndpoint(sandbox.baseUrl(), SITE, Secret.of("K", KEY), Duration.ofSeconds(5),
                    Duration.ofSeconds(10)), Clock.systemUTC());
            consumer.subscribe(List.of(topic));
            long end = 0;
            long start = 0;
            while (end == 0 || System.nanoTime() < end) {
                for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(200))) {
                    if (start == 0) {
                        start = System.nanoTime();
                        end = start + seconds * 1_000_000_000L;
                    }
                    ErasureRequest r = ((ParseResult.Valid) parser.parse(rec.value())).request();
                    track.suppress(r.identifier());
                    track.destroy(r.identifier());
                    insert.setString(1, r.requestId());
                    insert.setString(2, rec.topic());
                    insert.setInt(3, rec.partition());
                    insert.setLong(4, rec.offset());
                    insert.executeUpdate();
                    consumer.commitSync();
                    done++;
                    Thread.sleep(100);
                }
            }
            double rate = done / ((System.nanoTime() - start) / 1e9);
            return new Result("seed: one at a time, 100 ms sleep", 1000, latencyMs, done, rate, 500, sandbox.throttled(), Double.NaN,
                    0, 0, Double.NaN, Double.NaN, List.of());
        }
    }

    /** 1,000,000 (or n) requests through a 256 MB worker; memory sampled throughout. */
    Result backlog(int n) throws Exception {
        String topic = freshTopic(12);
        String db = freshDatabase();
        DataSource ds = dataSource(db);
        long t0 = System.nanoTime();
        produce(topic, "b", n);
        out.printf("    produced %d requests in %.0f s%n", n, (System.nanoTime() - t0) / 1e9);
        try (TrackSandbox sandbox = new TrackSandbox(new TrackSandbox.Options(SITE, KEY, 0, 0, 0, false));
             ChildWorker w = startWorker(topic, db, sandbox, 100_000, 256)) {
            awaitCompleted(ds, n, Duration.ofHours(3), "backlog");
            double[] times = completionTimes(ds);
            Result r = new Result("backlog of " + n + ", unlimited sandbox", 0, 0, n, sustainedRate(times), Double.NaN, 0,
                    w.cpu().toNanos() / 1e6 / n, w.peakHeapBytes(), w.peakRssBytes(), Double.NaN, Double.NaN, timeline(times));
            long v0 = System.nanoTime();
            dev.cioerasure.audit.ChainVerifier.Result chain = new dev.cioerasure.audit.ChainVerifier(ds).verify();
            double vs = (System.nanoTime() - v0) / 1e9;
            verifyReport = String.format("`audit verify` over the resulting %d audit rows: %s in %.1f s (%.0f rows/s, streaming,"
                    + " constant memory).", chain.rowsChecked(), chain.intact() ? "intact" : "BROKEN", vs, chain.rowsChecked() / vs);
            out.println("    " + verifyReport);
            return r;
        }
    }

    String machine() throws Exception {
        String pgVersion;
        try (Connection c = postgres.superuserDataSource().getConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW server_version")) {
            rs.next();
            pgVersion = rs.getString(1);
        }
        return System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors()
                + " cores, Java " + System.getProperty("java.version") + "; Kafka (KRaft, a JVM of its own), PostgreSQL " + pgVersion
                + " (embedded), sandbox and worker JVM all on this machine";
    }

    static String mb(long bytes) {
        return bytes <= 0 ? "-" : String.format("%.0f MB", bytes / 1048576.0);
    }

    static String fmt(double v, String pattern) {
        return Double.isNaN(v) ? "-" : String.format(pattern, v);
    }



}
