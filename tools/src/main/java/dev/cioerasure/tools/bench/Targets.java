package dev.cioerasure.tools.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * The batch mode's targets (issue 15: "Fifty erasures per Track request") against what one
 * {@code bench} run measured, as the table that opens benchmarks.md's batch section. Each row is
 * judged from the figures alone, so a run that misses a target says so.
 */
final class Targets {
    /** Sustained batch-mode erasures a second to reach, and the first bar on the way. */
    static final double BATCH_RATE = 3_000;
    static final double BATCH_RATE_FIRST_BAR = 2_000;
    static final double REQUESTS_PER_ERASURE = 0.05;
    static final double CPU_MS_PER_ERASURE = 0.15;
    static final double P99_MS = 1_000;
    static final double V1_RATIO = 0.95;

    private Targets() {
    }

    /** One target: what it asks, what the run measured, and the verdict. */
    record Row(String target, String measured, String verdict) {
    }

    /**
     * What the rows are judged on: the long batch run, its latency runs (the latency is judged on
     * their median p99: one run's p99 swings by a factor of ten on a busy machine) and v1's
     * strict-window ceilings.
     */
    record Measured(Benchmark.BatchResult batch, List<Benchmark.Result> batchLatencies, List<Benchmark.Result> v1StrictCeilings) {
        Measured {
            batchLatencies = List.copyOf(batchLatencies);
            if (batchLatencies.isEmpty()) {
                throw new IllegalArgumentException("at least one latency run");
            }
        }

        /** The latency run with the median p99 (the lower middle one of an even number; a p99 not measured counts as the highest). */
        Benchmark.Result medianLatency() {
            return medianByP99(batchLatencies);
        }
    }

    private static Benchmark.Result medianByP99(List<Benchmark.Result> runs) {
        List<Benchmark.Result> sorted = new ArrayList<>(runs);
        sorted.sort(java.util.Comparator.comparingDouble(r -> Double.isNaN(r.p99Ms()) ? Double.POSITIVE_INFINITY : r.p99Ms()));
        return sorted.get((sorted.size() - 1) / 2);
    }

    static List<Row> rows(Measured m) {
        Benchmark.Result batch = m.batch().result();
        List<Row> rows = new ArrayList<>();
        double rate = batch.erasuresPerSecond();
        rows.add(new Row("batch mode: at least 3,000 erasures/s sustained (first bar 2,000)", String.format("%,.0f/s over %,d requests",
                rate, batch.requests()), rate >= BATCH_RATE ? "met" : rate >= BATCH_RATE_FIRST_BAR ? "first bar only" : "not met"));
        rows.add(atMost("batch mode: at most 0.05 Track requests per erasure", m.batch().requestsPerErasure(), REQUESTS_PER_ERASURE,
                String.format("%.3f", m.batch().requestsPerErasure())));
        rows.add(atMost("batch mode: 0 requests over the limit", batch.overWindow(), 0, Long.toString(batch.overWindow())));
        double steady = m.batch().steadyCpu().ms();
        double whole = batch.cpuMsPerErasure();
        rows.add(new Row("worker CPU: at most 0.15 ms per erasure in batch mode, over a long run", String.format(
                "%.3f ms in the steady state (25 %%–90 %% of the requests), %.3f ms over the whole run (start-up included)", steady, whole),
                !(steady <= CPU_MS_PER_ERASURE) ? "not met"
                        : whole <= CPU_MS_PER_ERASURE ? "met" : "met in the steady state, not over the whole run"));
        Benchmark.Result latency = m.medianLatency();
        String runs = m.batchLatencies().size() == 1 ? "" : String.format(", the median of %d runs (p99 %s ms)", m.batchLatencies().size(),
                String.join(", ", m.batchLatencies().stream().map(r -> String.format("%.0f", r.p99Ms())).toList()));
        rows.add(atMost("latency: p99 from produce to durable row at most 1 s at 80 % of the batch ceiling", latency.p99Ms(), P99_MS,
                String.format("%.0f ms (p50 %.0f ms)%s, requests produced %s", latency.p99Ms(), latency.p50Ms(), runs,
                        latency.name().replace("batch mode, ", ""))));
        for (Benchmark.Result v1 : m.v1StrictCeilings()) {
            double ratio = v1.erasuresPerSecond() / v1.ceiling();
            rows.add(new Row("v1: at least 0.95 of its ceiling against the strict window, " + v1.limit() + " calls/s",
                    String.format("%.4f, %d over the window", ratio, v1.overWindow()),
                    ratio >= V1_RATIO && v1.overWindow() == 0 ? "met" : "not met"));
        }
        return rows;
    }

    private static Row atMost(String target, double measured, double bound, String shown) {
        return new Row(target, shown, !Double.isNaN(measured) && measured <= bound ? "met" : "not met");
    }

    static String table(List<Row> rows) {
        StringBuilder s = new StringBuilder("| target | measured in this run | |\n|---|---|---|\n");
        for (Row r : rows) {
            s.append("| ").append(r.target()).append(" | ").append(r.measured()).append(" | **").append(r.verdict()).append("** |\n");
        }
        return s.toString();
    }
}
