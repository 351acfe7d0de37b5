package dev.cioerasure.tools.bench;

import dev.cioerasure.testkit.sandbox.TrackSandbox;
import dev.cioerasure.testkit.embedded.EmbeddedDatabase;
import dev.cioerasure.testkit.embedded.EmbeddedKafka;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;

/** Runs every scenario of {@link Benchmark} in one go and reports them. */
public final class BenchmarkRun {
    private final PrintStream out;
    private final Path docs;
    private final int seconds;
    private final int backlog;
    private final int batchRequests;
    /** The default of {@code --batch-requests}: about 100 s at 3,000 erasures/s, long enough that the JIT's warm-up is a small part. */
    public static final int DEFAULT_BATCH_REQUESTS = 300_000;

    /** {@code batchRequests}: the backlog of the batch mode's long run, the one its throughput and CPU targets are read on. */
    public BenchmarkRun(PrintStream out, Path docs, int seconds, int backlog, int batchRequests) {
        this.out = out;
        this.docs = docs;
        this.seconds = seconds;
        this.backlog = backlog;
        this.batchRequests = batchRequests;
    }

    /** Runs only the backlog scenario and prints its figures (the full run takes the others too). */
    public int runBacklogOnly() throws Exception {
        return withBenchmark(b -> {
            Benchmark.Result r = b.backlog(backlog);
            String text = String.format("## A backlog of %d requests%n%nDrained at a sustained %.0f erasures/s (unlimited, zero-latency"
                    + " sandbox); peak heap %s of 256 MB, peak RSS %s; %.2f ms worker CPU per erasure. Memory is bounded by the"
                    + " in-flight limit, not by the backlog.%n%n%s%n%n![backlog](benchmark-backlog.png)%n", r.requests(), r.erasuresPerSecond(),
                    Benchmark.mb(r.peakHeap()), Benchmark.mb(r.peakRss()), r.cpuMsPerErasure(), b.verifyReport);
            out.println(text);
            Files.createDirectories(docs);
            ThroughputPlot.write(docs.resolve("benchmark-backlog.png"), "cio-erasure: draining a backlog of " + backlog + " (256 MB heap)",
                    List.of(new ThroughputPlot.Series("unlimited sandbox", r.timeline(), Double.NaN)));
            Files.writeString(docs.resolve("benchmark-backlog.md"), text);
            return 0;
        });
    }

    /** One scenario's work with a {@link Benchmark}; returns the exit code. */
    private interface Scenario {
        int run(Benchmark b) throws Exception;
    }

    /** Runs {@code s} against a broker and a database of its own, stopped afterwards. */
    private int withBenchmark(Scenario s) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(); EmbeddedDatabase pg = database()) {
            return s.run(new Benchmark(out, Files.createTempDirectory("cio-erasure-bench"), kafka, pg));
        }
    }

    /**
     * The embedded PostgreSQL; with {@code BENCH_PG_LOG=<file>} it logs there, with the plans of
     * statements of 3 ms or more (docs/benchmarks-by-hand.md, "Finding a slow statement").
     */
    private static EmbeddedDatabase database() throws Exception {
        String log = System.getenv("BENCH_PG_LOG");
        return log == null ? EmbeddedDatabase.start() : EmbeddedDatabase.startLoggingSlowPlans(Path.of(log));
    }

    /** Runs only the group scenario and prints its row. */
    public int runGroupOnly() throws Exception {
        return withBenchmark(b -> {
            List<Benchmark.GroupResult> rows = new ArrayList<>();
            for (int[] run : new int[][] {{1000, 0}, {1000, 10}, {200, 0}, {200, 10}}) {
                rows.add(b.group(run[0], 50, seconds, run[1]));
            }
            rows.add(b.warmGroup(1000, 50, seconds));
            for (Benchmark.GroupResult g : rows) {
                Benchmark.Result r = g.result();
                out.printf("| %s | %d | %.1f | %.0f | **%.3f** | %d | %d |%n", r.name(), r.requests(), r.erasuresPerSecond(), r.ceiling(),
                        r.erasuresPerSecond() / r.ceiling(), r.overWindow(), r.throttled());
            }
            return 0;
        });
    }

    /**
     * Runs only v1's ceilings against the strict window, each {@code seconds} long: 100/s twice and
     * 1000/s once by default ({@code -Dbench.limits=1000,1000} picks others: {@code BenchCommand}).
     */
    public int runCeilingOnly(int[] limits) throws Exception {
        return withBenchmark(b -> {
            for (int limit : limits) {
                Benchmark.Result r = b.ceiling(limit, 50, seconds, TrackSandbox.Limit.SLIDING_WINDOW);
                out.printf("| %s | %d | %.2f | %.0f | **%.3f** | %d | %d | %.2f ms CPU per erasure |%n", r.name(), r.requests(),
                        r.erasuresPerSecond(), r.ceiling(), r.erasuresPerSecond() / r.ceiling(), r.overWindow(), r.throttled(),
                        r.cpuMsPerErasure());
            }
            return 0;
        });
    }

    /** Runs only the end-to-end latency scenario, three times (for profiling). */
    public int runLatencyOnly() throws Exception {
        return withBenchmark(b -> {
            for (int i = 0; i < 3; i++) {
                Benchmark.Result r = b.latency(1000, 50, 0.8, 20);
                out.printf("latency at 80 %% of the ceiling: p50 %.0f ms, p99 %.0f ms over %d requests (%d 429s)%n", r.p50Ms(), r.p99Ms(),
                        r.requests(), r.throttled());
            }
            return 0;
        });
    }

    /** The v1-against-batch section of benchmarks.md, opened by the targets' table. */
    static String batchSection(Benchmark.Result v1, Benchmark.BatchResult batch, Benchmark.Result latency,
                               List<Benchmark.GroupResult> groups, List<Targets.Row> targets) {
        Benchmark.Result r = batch.result();
        StringBuilder s = new StringBuilder("## Track v2 batches\n\n");
        s.append("The same limit, latency and strict-window sandbox; `CUSTOMERIO_TRACK_API=batch` sends the calls in"
                + " `POST /api/v2/batch` requests (`CUSTOMERIO_BATCH_MAX_ITEMS=200`, `ERASURE_MAX_IN_FLIGHT=" + Benchmark.BATCH_IN_FLIGHT + "`), and the limit"
                + " counts those requests. The batch mode's targets, each judged on this run's figures alone:\n\n");
        s.append(Targets.table(targets)).append('\n');
        s.append("| run | requests | sustained erasures/s | Track requests per erasure | persons per batch | worker CPU per erasure"
                + " | requests over the window | vs. v1 |\n|---|---|---|---|---|---|---|---|\n");
        s.append(String.format("| v1, %s | %d | %.0f | 2 | 1 | %s | %d | 1× |%n", v1.name(), v1.requests(), v1.erasuresPerSecond(),
                Benchmark.fmt(v1.cpuMsPerErasure(), "%.2f ms"), v1.overWindow()));
        s.append(String.format("| %s | %d | %.0f | %.3f | %.1f | %s | %d | %.1f× |%n%n", r.name(), r.requests(), r.erasuresPerSecond(),
                batch.requestsPerErasure(), batch.meanItems(), Benchmark.fmt(r.cpuMsPerErasure(), "%.3f ms"), r.overWindow(),
                r.erasuresPerSecond() / v1.erasuresPerSecond()));
        s.append(String.format("Worker CPU per erasure is over the whole run, start-up and the JIT's warm-up included (the v1 run is"
                + " %,d requests, the batch run %,d). In the batch run's steady state (from 25 %% to 90 %% of its requests) it was"
                + " **%s**, of which %s in the JIT compiler threads.%n%n", v1.requests(), r.requests(),
                Benchmark.fmt(batch.steadyCpu().ms(), "%.3f ms"), Benchmark.fmt(batch.steadyCpu().jitMs(), "%.3f ms")));
        s.append("With batches the Track limit is no longer the ceiling (1,000 requests/s would carry tens of thousands of erasures"
                + " a second); the worker and PostgreSQL are, sharing this machine's cores with Kafka and the sandbox.\n\n");
        s.append(String.format("Latency in batch mode, requests produced %s (80 %% of the batch ceiling above), after the"
                + " worker has drained %,d requests at full speed (its JIT's warm-up): from the producer's"
                + " send to the audit row being durable, in the run with the median p99 of " + LATENCY_RUNS + " (each a worker of its own):"
                + " **p50 %.0f ms, p99 %.0f ms** over %d requests; p99 %.0f ms for those sent"
                + " after the first %d s of load.%n%n", latency.name().replace("batch mode, ", ""), Benchmark.BATCH_LATENCY_WARM_UP,
                latency.p50Ms(), latency.p99Ms(), latency.requests(), latency.p99WarmMs(), Benchmark.WARM_UP_SECONDS));
        s.append("Three worker JVMs in batch mode (`WORKER_INSTANCE_ID` bench-g0..g2) share one limit against the strict window;"
                + " half of the requests have one key, so one partition holds half the work. The group forms first, then the backlog is"
                + " produced; in the second run one instance is killed (kill -9) and started again under its id every 10 s."
                + " Share of the budget used: the group's batch requests a second ÷ the limit.\n\n");
        s.append("| run | requests | sustained erasures/s | Track requests per erasure | share of the budget used | requests over the"
                + " window | 429s |\n|---|---|---|---|---|---|---|\n");
        for (Benchmark.GroupResult g : groups) {
            Benchmark.Result gr = g.result();
            s.append(String.format("| %s | %d | %.0f | %.3f | **%.3f** | %d | %d |%n", gr.name(), gr.requests(), gr.erasuresPerSecond(),
                    g.requestsPerErasure(), g.budgetShare(), gr.overWindow(), gr.throttled()));
        }
        s.append("\nThe budget is not what limits the group: three cold worker JVMs, Kafka, PostgreSQL and the sandbox share the"
                + " machine's cores. v1's group, where the budget is the limit, is `bench --group-only` (docs/benchmarks-by-hand.md,"
                + " \"A group of three instances\").\n\n");
        s.append("![v1 against batches](benchmark-batch.png)\n\n");
        return s.toString();
    }

    /**
     * v1 against batch mode in one run, at 1,000 requests/s and 50 ms against the strict window:
     * erasures/s, Track requests per erasure, worker CPU per erasure, calls over the window. Prints
     * a table (written nowhere: the hand-measured figures go to docs/benchmarks-by-hand.md).
     */
    public int runBatchOnly() throws Exception {
        return withBenchmark(b -> {
            out.println("v1 at 1000 requests/s, 50 ms, strict window …");
            Benchmark.Result v1 = b.ceiling(1000, 50, seconds, TrackSandbox.Limit.SLIDING_WINDOW);
            out.println("batch mode, the same limit and latency …");
            Benchmark.BatchResult batch = b.batch(1000, 50, 20_000, 200, Benchmark.BATCH_IN_FLIGHT);
            int steady = (int) (batch.result().erasuresPerSecond() * 0.8);
            out.println("batch mode, requests produced at " + steady + "/s (80 % of its ceiling just measured) …");
            Benchmark.Result latency = b.batchLatency(1000, 50, steady, 20);
            out.println();
            out.printf("batch mode at a steady %d/s: produce → durable row p50 %.0f ms, p99 %.0f ms over %d requests (p99 %.0f ms"
                    + " after the first %d s)%n%n", steady, latency.p50Ms(), latency.p99Ms(), latency.requests(), latency.p99WarmMs(),
                    Benchmark.WARM_UP_SECONDS);
            out.println("batch mode, three instances, skewed keys, with and without one killed every 10 s …");
            for (int kill : new int[] {0, 10}) {
                Benchmark.Result g = b.batchGroup(1000, 50, 20_000, kill).result();
                out.printf("| %s | %d | %.0f | %d | %d |%n", g.name(), g.requests(), g.erasuresPerSecond(), g.overWindow(), g.throttled());
            }
            out.println("| run | requests | sustained erasures/s | Track requests per erasure | persons per batch | worker CPU per erasure"
                    + " | requests over the window | vs. v1 |");
            out.println("|---|---|---|---|---|---|---|---|");
            out.printf("| %s | %d | %.0f | 2 | 1 | %s | %d | 1× |%n", v1.name(), v1.requests(), v1.erasuresPerSecond(),
                    Benchmark.fmt(v1.cpuMsPerErasure(), "%.2f ms"), v1.overWindow());
            Benchmark.Result r = batch.result();
            out.printf("| %s | %d | %.0f | %.3f | %.1f | %s | %d | %.1f× |%n", r.name(), r.requests(), r.erasuresPerSecond(),
                    batch.requestsPerErasure(), batch.meanItems(), Benchmark.fmt(r.cpuMsPerErasure(), "%.2f ms"), r.overWindow(),
                    r.erasuresPerSecond() / v1.erasuresPerSecond());
            return 0;
        });
    }

    /** Runs only batch mode at 1,000 requests/s and 50 ms over --backlog requests (for profiling with BENCH_WORKER_JAVA_OPTS). */
    public int runBatchCostOnly() throws Exception {
        return withBenchmark(b -> {
            Benchmark.BatchResult batch = b.batch(1000, 50, backlog > 0 ? backlog : 20_000, 200, Benchmark.batchInFlight());
            Benchmark.Result r = batch.result();
            out.printf("batch mode: %.0f erasures/s, %.3f requests per erasure, %.3f ms worker CPU per erasure over the whole run,"
                    + " %.3f ms in the steady state (25 %%–90 %%; of it %.3f ms JIT), %d over the window%n", r.erasuresPerSecond(),
                    batch.requestsPerErasure(), r.cpuMsPerErasure(), batch.steadyCpu().ms(), batch.steadyCpu().jitMs(), r.overWindow());
            return 0;
        });
    }

    /** Runs only batch mode's latency at {@code perSecond} requests produced a second (after its warm-up). */
    public int runBatchLatencyOnly(int perSecond) throws Exception {
        return withBenchmark(b -> {
            Benchmark.Result r = b.batchLatency(1000, 50, perSecond, seconds);
            out.printf("batch mode at a steady %d/s: produce → durable row p50 %.0f ms, p99 %.0f ms over %d requests (p99 %.0f ms"
                    + " after the first %d s)%n", perSecond, r.p50Ms(), r.p99Ms(), r.requests(), r.p99WarmMs(), Benchmark.WARM_UP_SECONDS);
            return 0;
        });
    }

    /** Runs only the worker's-own-ceiling scenario (for profiling with BENCH_WORKER_JAVA_OPTS). */
    public int runOverheadOnly() throws Exception {
        return withBenchmark(b -> {
            Benchmark.Result r = b.overhead(20_000);
            out.printf("unlimited, 0 ms: %.0f erasures/s, %.2f ms worker CPU per erasure, peak heap %s%n", r.erasuresPerSecond(),
                    r.cpuMsPerErasure(), Benchmark.mb(r.peakHeap()));
            return 0;
        });
    }

    /** Batch-mode latency runs in a whole {@code bench}: judged on the median p99 (one run's swings by a factor of ten here). */
    static final int LATENCY_RUNS = 3;

    public int run() throws Exception {
        long t0 = System.nanoTime();
        out.println("starting Kafka and PostgreSQL …");
        return withBenchmark(b -> {
            // First, so that the broker, PostgreSQL and the sandbox (and this JVM's JIT) have served a run before the
            // ceilings, whose ratios are targets, are measured; every run starts a worker JVM of its own all the same
            out.println("1/8 the worker's own ceiling: unlimited, zero-latency sandbox …");
            Benchmark.Result overhead = b.overhead(20_000);
            out.println("2/8 ceiling at 1000 calls/s, 50 ms latency, strict sliding-window server …");
            Benchmark.Result c1000 = b.ceiling(1000, 50, seconds, TrackSandbox.Limit.SLIDING_WINDOW);
            out.println("    … and against a token-bucket server");
            Benchmark.Result c1000bucket = b.ceiling(1000, 50, seconds, TrackSandbox.Limit.TOKEN_BUCKET);
            out.println("3/8 ceiling at 100 calls/s, 50 ms latency, strict sliding-window server …");
            Benchmark.Result c100 = b.ceiling(100, 50, Math.max(20, seconds / 2), TrackSandbox.Limit.SLIDING_WINDOW);
            out.println("    … and against a token-bucket server");
            Benchmark.Result c100bucket = b.ceiling(100, 50, Math.max(20, seconds / 2), TrackSandbox.Limit.TOKEN_BUCKET);
            out.println("4/8 end-to-end latency at 80 % of the ceiling …");
            Benchmark.Result latency = b.latency(1000, 50, 0.8, 20);
            out.println("5/8 baseline: the seed approach, one request at a time with a 100 ms sleep …");
            Benchmark.Result seed = b.seedBaseline(50, 20);
            Benchmark.Result big = null;
            if (backlog > 0) {
                out.println("6/8 backlog of " + backlog + " requests with a 256 MB heap …");
                big = b.backlog(backlog);
            } else {
                out.println("6/8 backlog: skipped (run with --backlog 1000000)");
            }
            out.println("7/8 batch mode (CUSTOMERIO_TRACK_API=batch) at 1000 requests/s, 50 ms latency, strict window, " + batchRequests
                    + " requests …");
            Benchmark.BatchResult batch = b.batch(1000, 50, batchRequests, 200, Benchmark.BATCH_IN_FLIGHT);
            int steady = (int) (batch.result().erasuresPerSecond() * 0.8);
            out.println("    … and its latency at " + steady + " requests/s (80 % of that), " + LATENCY_RUNS + " runs …");
            List<Benchmark.Result> batchLatencies = new java.util.ArrayList<>();
            for (int i = 0; i < LATENCY_RUNS; i++) {
                Benchmark.Result r = b.batchLatency(1000, 50, steady, 20);
                out.printf("      p50 %.0f ms, p99 %.0f ms%n", r.p50Ms(), r.p99Ms());
                batchLatencies.add(r);
            }
            out.println("8/8 batch mode, three instances, skewed keys, strict window, without and with one killed every 10 s …");
            List<Benchmark.GroupResult> groups = List.of(b.batchGroup(1000, 50, 20_000, 0), b.batchGroup(1000, 50, 20_000, 10));
            Targets.Measured measured = new Targets.Measured(batch, batchLatencies, List.of(c1000, c100));
            List<Targets.Row> targets = Targets.rows(measured);
            String report = report(b.machine(), List.of(c1000, c1000bucket, c100, c100bucket), overhead, latency, seed, big,
                    (System.nanoTime() - t0) / 1e9, b.verifyReport) + batchSection(c1000, batch, measured.medianLatency(), groups, targets);
            out.println();
            out.println(report);
            Files.createDirectories(docs);
            ThroughputPlot.write(docs.resolve("benchmark-throughput.png"), "cio-erasure: erasures per second over time",
                    List.of(new ThroughputPlot.Series("limit 1000 calls/s, 50 ms, strict window", c1000.timeline(), c1000.ceiling()),
                            new ThroughputPlot.Series("limit 100 calls/s, 50 ms, strict window", c100.timeline(), c100.ceiling())));
            ThroughputPlot.write(docs.resolve("benchmark-batch.png"), "cio-erasure: v1 against Track v2 batches (1000 requests/s, 50 ms)",
                    List.of(new ThroughputPlot.Series("v1: 2 requests per erasure", c1000.timeline(), c1000.ceiling()),
                            new ThroughputPlot.Series("batch: up to 200 persons per request", batch.result().timeline(), Double.NaN)));
            if (big != null) {
                ThroughputPlot.write(docs.resolve("benchmark-backlog.png"), "cio-erasure: draining a backlog of " + backlog + " (256 MB heap)",
                        List.of(new ThroughputPlot.Series("unlimited sandbox", big.timeline(), Double.NaN)));
            }
            Files.writeString(docs.resolve("benchmarks.md"), report);
            out.println("written: " + docs.resolve("benchmarks.md") + ", " + docs.resolve("benchmark-throughput.png"));
            return 0;
        });
    }

    private String report(String machine, List<Benchmark.Result> ceilings, Benchmark.Result overhead, Benchmark.Result latency,
                          Benchmark.Result seed, Benchmark.Result big, double wall, String verifyReport) {
        Benchmark.Result c1000 = ceilings.get(0);
        StringBuilder s = new StringBuilder();
        s.append("# Benchmarks\n\n");
        s.append("Generated by `java -jar tools/target/cio-erasure-tools.jar bench").append(big != null ? " --backlog " + big.requests() : "")
                .append(batchRequests != DEFAULT_BATCH_REQUESTS ? " --batch-requests " + batchRequests : "")
                .append("` on ").append(LocalDate.now()).append(" (").append(String.format("%.0f", wall)).append(" s).\n\n");
        s.append("Machine: ").append(machine).append(". The machine is shared and noisy: read ratios, not absolutes.\n\n");
        s.append("Setup: a backlog of requests is produced first; then the worker starts as its own JVM (`-Xmx256m`,"
                + " `ERASURE_MAX_IN_FLIGHT` = half the limit, at least 32, `CUSTOMERIO_RATE_LIMIT_PER_SECOND` = the limit) against the Customer.io sandbox,"
                + " which sleeps the given latency and answers 429 past its limit. It counts the limit one of two ways:"
                + " a **strict sliding window** (every arrival that finds the limit reached among the arrivals of the second"
                + " before it is over the window and gets 429: the strictest server there can be), or a **token bucket** of the"
                + " limit's size (forgives bursts)."
                + " Sustained rate = erasures completed between the 10 % and 90 % marks ÷ that time, from the audit table's"
                + " `recorded_at` (so an erasure counts only once its audit row is durable).\n\n");
        s.append("## Against the ceiling\n\n");
        s.append("| run | requests | sustained erasures/s | ceiling (limit ÷ 2) | ratio to ceiling | calls over the window | 429s received | vs. seed baseline |\n");
        s.append("|---|---|---|---|---|---|---|---|\n");
        for (Benchmark.Result r : ceilings) {
            s.append(String.format("| %s | %d | %.1f | %.0f | **%.3f** | %s | %d | %.0f× |%n", r.name(), r.requests(), r.erasuresPerSecond(),
                    r.ceiling(), r.erasuresPerSecond() / r.ceiling(),
                    r.model() == TrackSandbox.Limit.SLIDING_WINDOW ? Long.toString(r.overWindow()) : "–", r.throttled(),
                    r.erasuresPerSecond() / seed.erasuresPerSecond()));
        }
        s.append(String.format("| %s | %d | %.2f | %.0f | %.3f | – | %d | 1× |%n%n", seed.name(), seed.requests(), seed.erasuresPerSecond(),
                seed.ceiling(), seed.erasuresPerSecond() / seed.ceiling(), seed.throttled()));
        s.append("The pacing guarantee (docs/operations.md, \"Rate limit\"): a call holds a slot of the limit from its start until"
                + " one second after its response, so no one-second window a server can draw holds more arrivals than the limit."
                + " Its price is the ceiling itself: a slot serves one call per (1 s + latency), at most 1 / 1.05 = 0.952 of the"
                + " limit with 50 ms latency, whatever the server. A 429 would lower the rate by 10 % (recovering by 5 % per"
                + " 5 s); no thread waits out another call's Retry-After, so a 429 costs little; the 429 column shows none"
                + " came. A ratio a little above the bound is an artefact of the measure: erasures are timed by when their"
                + " audit rows were committed, in batches.\n\n");
        s.append("![throughput over time](benchmark-throughput.png)\n\n");
        s.append("## The worker's own cost\n\n");
        s.append("| run | requests | erasures/s | worker CPU per erasure | peak heap | peak RSS |\n|---|---|---|---|---|---|\n");
        for (Benchmark.Result r : big == null ? List.of(overhead, c1000) : List.of(overhead, c1000, big)) {
            s.append(String.format("| %s | %d | %.0f | %s | %s | %s |%n", r.name(), r.requests(), r.erasuresPerSecond(),
                    Benchmark.fmt(r.cpuMsPerErasure(), "%.2f ms"), Benchmark.mb(r.peakHeap()), Benchmark.mb(r.peakRss())));
        }
        s.append("\nWith an unlimited, zero-latency sandbox the limit is the machine: Kafka, PostgreSQL (five audit rows per"
                + " erasure, suppress, destroy, the workspace's outcome, verification and the request's outcome, hash-chained in a"
                + " trigger), the sandbox and the worker"
                + " (which also announces two outcome events per erasure) share its cores.\n\n");
        s.append("## End-to-end latency\n\n");
        s.append(String.format("Requests produced %s; from the producer's send to the audit row being durable:"
                + " **p50 %.0f ms, p99 %.0f ms** over %d requests (%d 429s); p99 %.0f ms for those sent after the first %d s of load."
                + " The floor is two Track calls of 50 ms each.%n%n", latency.name(), latency.p50Ms(), latency.p99Ms(), latency.requests(),
                latency.throttled(), latency.p99WarmMs(), Benchmark.WARM_UP_SECONDS));
        if (big != null) {
            s.append("## A backlog of ").append(big.requests()).append(" requests\n\n");
            s.append(String.format("Drained at a sustained %.0f erasures/s; peak heap %s of 256 MB, peak RSS %s; %.2f ms worker CPU"
                            + " per erasure. Memory is bounded by the in-flight limit, not by the backlog.%n%n",
                    big.erasuresPerSecond(), Benchmark.mb(big.peakHeap()), Benchmark.mb(big.peakRss()), big.cpuMsPerErasure()));
            s.append(verifyReport).append("\n\n");
            s.append("![backlog](benchmark-backlog.png)\n\n");
        }
        s.append("## Measured by hand\n\nRuns that `bench` does not write here (it rewrites this whole file): v1's group of three"
                + " instances, with and without kills (`bench --group-only`), the million-request backlog when not run with `--backlog`,"
                + " and A/B comparisons: [benchmarks-by-hand.md](benchmarks-by-hand.md).\n\n");
        s.append("## Reproduce\n\n```sh\nmvn -q package -DskipTests\njava -jar tools/target/cio-erasure-tools.jar bench            # ~10 minutes\n"
                + "java -jar tools/target/cio-erasure-tools.jar bench --backlog 1000000   # adds the million-request backlog\n"
                + "java -jar tools/target/cio-erasure-tools.jar bench --batch-requests 1000000   # a longer batch-mode run\n```\n");
        return s.toString();
    }
}
