package dev.cioerasure.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.util.List;
import org.junit.jupiter.api.Test;

class TargetsTest {
    private static Benchmark.Result run(int limit, int requests, double rate, double ceiling, double cpuMs, long overWindow, double p99) {
        return new Benchmark.Result("run", limit, 50, requests, rate, ceiling, 0, cpuMs, 0, 0, 40, p99, List.of(), overWindow,
                TrackSandbox.Limit.SLIDING_WINDOW);
    }

    /**
     * A batch run of 300,000 erasures at {@code rate}/s that sent {@code batchRequests} requests, at
     * {@code cpuMs} of worker CPU per erasure over the whole run and {@code steadyCpuMs} in its steady state.
     */
    private static Benchmark.BatchResult batch(double rate, long batchRequests, double cpuMs, double steadyCpuMs, long overWindow) {
        return new Benchmark.BatchResult(run(1000, 300_000, rate, Double.NaN, cpuMs, overWindow, Double.NaN), batchRequests, 150,
                new Benchmark.CpuPerErasure(steadyCpuMs, 0.01));
    }

    private static List<String> verdicts(Benchmark.BatchResult batch, double p99, double v1Rate, long v1OverWindow) {
        Targets.Measured m = new Targets.Measured(batch, List.of(run(1000, 40_000, 2400, Double.NaN, Double.NaN, 0, p99)),
                List.of(run(1000, 20_000, v1Rate, 500, 1.6, v1OverWindow, Double.NaN)));
        return Targets.rows(m).stream().map(Targets.Row::verdict).toList();
    }

    @Test
    void aRunThatMeetsEveryTargetIsJudgedMetOnEveryRow() {
        assertThat(verdicts(batch(3_050, 4_000, 0.13, 0.10, 0), 290, 476, 0)).containsOnly("met").hasSize(6);
    }

    @Test
    void eachMissedTargetIsJudgedOnItsOwnRow() {
        // rate under 3,000 but over the first bar; 0.06 requests per erasure; 1 over the window; 0.16 ms of CPU in the steady state
        assertThat(verdicts(batch(2_500, 18_000, 0.17, 0.16, 1), 290, 476, 0))
                .containsExactly("first bar only", "not met", "not met", "not met", "met", "met");
        assertThat(verdicts(batch(1_900, 4_000, 0.13, 0.10, 0), 1_001, 474, 0))
                .containsExactly("not met", "met", "met", "met", "not met", "not met");
        // v1 at its ratio but with a call over the window
        assertThat(verdicts(batch(3_000, 4_000, 0.15, 0.15, 0), 1_000, 476, 1))
                .containsExactly("met", "met", "met", "met", "met", "not met");
    }

    @Test
    void cpuOverTheWholeRunAboveTheTargetIsSaidBesideTheSteadyState() {
        assertThat(verdicts(batch(3_050, 4_000, 0.171, 0.117, 0), 290, 476, 0))
                .containsExactly("met", "met", "met", "met in the steady state, not over the whole run", "met", "met");
    }

    @Test
    void aFigureTheRunCouldNotMeasureIsNotMet() {
        assertThat(verdicts(batch(3_050, 4_000, 0.13, Double.NaN, 0), Double.NaN, 476, 0))
                .containsExactly("met", "met", "met", "not met", "not met", "met");
    }

    /** Three latency runs: judged on the median p99, each run's p99 shown. */
    @Test
    void theLatencyIsJudgedOnTheMedianOfItsRuns() {
        Benchmark.BatchResult batch = batch(3_050, 4_000, 0.13, 0.10, 0);
        List<Benchmark.Result> v1 = List.of(run(1000, 20_000, 476, 500, 1.6, 0, Double.NaN));
        List<Targets.Row> oneSlowRun = Targets.rows(new Targets.Measured(batch, List.of(run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 900),
                run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 14_000), run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 950)), v1));
        assertThat(oneSlowRun.get(4).verdict()).isEqualTo("met");
        assertThat(oneSlowRun.get(4).measured()).startsWith("950 ms").contains("the median of 3 runs (p99 900, 14000, 950 ms)");
        List<Targets.Row> twoSlowRuns = Targets.rows(new Targets.Measured(batch, List.of(run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 900),
                run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 3_000), run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 1_200)), v1));
        assertThat(twoSlowRuns.get(4).verdict()).isEqualTo("not met");
        assertThat(twoSlowRuns.get(4).measured()).startsWith("1200 ms");
        List<Targets.Row> oneUnmeasured = Targets.rows(new Targets.Measured(batch, List.of(run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 900),
                run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, Double.NaN)), v1));
        assertThat(oneUnmeasured.get(4).measured()).as("the lower middle of two").startsWith("900 ms");
    }

    @Test
    void theTableShowsEachTargetWithWhatWasMeasured() {
        String table = Targets.table(Targets.rows(new Targets.Measured(batch(3_050, 4_000, 0.171, 0.117, 0),
                List.of(run(1000, 40_000, 2440, Double.NaN, Double.NaN, 0, 290)), List.of(run(100, 1_000, 47.49, 50, 1.6, 0, Double.NaN)))));
        assertThat(table).contains("| batch mode: at least 3,000 erasures/s sustained (first bar 2,000) | 3,050/s over 300,000 requests | **met** |")
                .contains("| 0.013 | **met** |")
                .contains("0.117 ms in the steady state (25 %–90 % of the requests), 0.171 ms over the whole run")
                .contains("| v1: at least 0.95 of its ceiling against the strict window, 100 calls/s | 0.9498, 0 over the window | **not met** |");
    }
}
