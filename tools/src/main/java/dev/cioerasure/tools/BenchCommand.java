package dev.cioerasure.tools;

import dev.cioerasure.cli.Errors;
import dev.cioerasure.tools.bench.BenchmarkRun;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Measure the worker against its ceiling on this machine.",
                "A real broker, a real PostgreSQL, the Customer.io sandbox with 50 ms latency and an enforced limit,"
                        + " and the worker as its own JVM with a 256 MB heap. Prints the figures and writes them to"
                        + " docs/benchmarks.md (and a throughput plot)."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "40", description = "Length of each ceiling run at the limit (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--backlog", defaultValue = "0", description = "Also drain a backlog of this many requests (e.g. 1000000) with a 256 MB heap.")
    int backlog;

    @Option(names = "--docs", defaultValue = "docs", description = "Where to write benchmarks.md and the plot (default: ${DEFAULT-VALUE}).")
    Path docs;

    @Option(names = "--backlog-only", description = "Only drain the --backlog (writes docs/benchmark-backlog.md).")
    boolean backlogOnly;

    @Option(names = "--overhead-only", description = "Only measure the worker's own ceiling (for profiling).", hidden = true)
    boolean overheadOnly;

    @Option(names = "--latency-only", description = "Only the end-to-end latency at 80 % of the ceiling (for profiling).", hidden = true)
    boolean latencyOnly;

    @Option(names = "--batch-only", description = "Only v1 against Track v2 batch mode (CUSTOMERIO_TRACK_API=batch), one run each.")
    boolean batchOnly;

    @Option(names = "--batch-cost-only", description = "Only batch mode's throughput and worker CPU, over --backlog requests"
            + " (default 20000; for profiling with BENCH_WORKER_JAVA_OPTS).", hidden = true)
    boolean batchCostOnly;

    @Option(names = "--batch-latency-only", description = "Only batch mode's latency, requests produced at -Dbench.rate per second"
            + " (default 1600) for --seconds (for A/B comparisons).", hidden = true)
    boolean batchLatencyOnly;

    @Option(names = "--ceiling-only", description = "Only v1's ceilings against the strict window: 100/s twice, then 1000/s"
            + " (each --seconds long; for A/B comparisons of the pacing).", hidden = true)
    boolean ceilingOnly;

    @Option(names = "--group-only", description = "Only the group scenario: three instances, skewed keys, with and without one killed every 10 s, and at 1000/s after a warm-up.")
    boolean groupOnly;

    @Option(names = "--batch-requests", defaultValue = "" + BenchmarkRun.DEFAULT_BATCH_REQUESTS, description = "The backlog of batch mode's long run, on which its"
            + " sustained rate and CPU per erasure are read (default: ${DEFAULT-VALUE}).")
    int batchRequests;

    /** The limits of {@code --ceiling-only}'s runs, from {@code -Dbench.limits} (a by-hand knob): positive, comma-separated. */
    static int[] ceilingLimits(String given) {
        try {
            int[] limits = java.util.Arrays.stream(given.split(",", -1)).map(String::trim).mapToInt(Integer::parseInt).toArray();
            if (java.util.Arrays.stream(limits).allMatch(l -> l > 0)) {
                return limits;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new Errors.UserError("-Dbench.limits must be calls per second above 0, separated by commas (e.g. 1000,1000); got '"
                + given + "'", 2);
    }

    private BenchmarkRun runner() {
        return new BenchmarkRun(System.out, docs, seconds, backlog, batchRequests);
    }

    @Override
    public Integer call() throws Exception {
        // each run measures between the 10 % and 90 % marks of its requests: too few make no rate
        if (seconds < 10) {
            throw new Errors.UserError("--seconds must be at least 10 (got " + seconds + ")", 2);
        }
        if (batchRequests < 10_000) {
            throw new Errors.UserError("--batch-requests must be at least 10000 (got " + batchRequests + ")", 2);
        }
        if (backlogOnly) {
            if (backlog <= 0) {
                throw new Errors.UserError("--backlog-only needs --backlog N", 2);
            }
            return runner().runBacklogOnly();
        }
        if (batchOnly) {
            return runner().runBatchOnly();
        }
        if (batchCostOnly) {
            return runner().runBatchCostOnly();
        }
        if (batchLatencyOnly) {
            return runner().runBatchLatencyOnly(Integer.getInteger("bench.rate", 1600));
        }
        if (groupOnly) {
            return runner().runGroupOnly();
        }
        if (ceilingOnly) {
            return runner().runCeilingOnly(ceilingLimits(System.getProperty("bench.limits", "100,100,1000")));
        }
        if (latencyOnly) {
            return runner().runLatencyOnly();
        }
        if (overheadOnly) {
            return runner().runOverheadOnly();
        }
        return runner().run();
    }
}
