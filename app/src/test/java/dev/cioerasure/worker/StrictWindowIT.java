package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.testkit.sandbox.TrackSandbox;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Against a Customer.io stand-in that counts arrivals in a strict sliding one-second window
 * (every window a server may draw, not a forgiving token bucket), the worker makes no call over
 * the limit: one instance, and a group of three that shares one budget through a rebalance.
 */
class StrictWindowIT {

    private static TrackSandbox strict(int limit, int latencyMillis) throws Exception {
        return new TrackSandbox(new TrackSandbox.Options(WorkerHarness.SITE_ID, WorkerHarness.API_KEY, latencyMillis, limit, 0)
                .with(TrackSandbox.Limit.SLIDING_WINDOW));
    }

    /** Calls per second from the first arrival until 90 % of the calls had arrived. */
    private static double steadyRate(TrackSandbox sandbox) {
        long[] t = sandbox.calls().stream().mapToLong(TrackSandbox.Call::atNanos).sorted().toArray();
        int upTo = t.length * 9 / 10;
        return upTo / ((t[upTo] - t[0]) / 1e9);
    }

    @Test
    void oneInstanceMakesNoCallOverAStrictWindow() throws Exception {
        int limit = 100;
        try (TrackSandbox sandbox = strict(limit, 50);
             WorkerHarness h = new WorkerHarness(sandbox.baseUrl(), limit, 5, Duration.ofSeconds(5), 3)) {
            int n = 500;
            for (int i = 0; i < n; i++) {
                h.send(("s-" + i).getBytes(StandardCharsets.UTF_8), Messages.request("r-strict-" + i, "id", "p-strict-" + i));
            }
            h.start();
            await().atMost(Duration.ofSeconds(60)).until(() -> h.count(
                    "SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'") == n);
            double rate = steadyRate(sandbox);
            Cli.report("[strict-window] one instance, limit %d/s, 50 ms latency: %.1f calls/s (%.3f of the limit),"
                    + " over the window %d, 429s %d%n", limit, rate, rate / limit, sandbox.overWindow(), sandbox.throttled());
            assertThat(sandbox.overWindow()).as("calls over the strict one-second window").isZero();
            assertThat(sandbox.throttled()).isZero();
            assertThat(GroupRateLimitIT.maxInWindow(sandbox.calls(), 1_000_000_000L)).isLessThanOrEqualTo(limit);
            // limit / (1 s + latency) = 0.95 of the limit; a loaded 2-core machine costs a little more
            assertThat(rate).isGreaterThan(0.85 * limit);
        }
    }

    @Test
    void threeInstancesShareOneBudgetThroughARebalanceWithNoCallOverTheWindow() throws Exception {
        int limit = 150;
        try (TrackSandbox sandbox = strict(limit, 20);
             WorkerHarness h = new WorkerHarness(sandbox.baseUrl(), limit, 5, Duration.ofSeconds(5), 6)) {
            int n = 1500;
            for (int i = 0; i < n; i++) {
                // skewed keys: half of all requests on one key's partition
                String key = i % 2 == 0 ? "hot" : "s-" + i;
                h.send(key.getBytes(StandardCharsets.UTF_8), Messages.request("r-group-strict-" + i, "id", "p-group-strict-" + i));
            }
            h.start();
            WorkerRuntime b = h.startAnother("strict-b");
            WorkerRuntime c = h.startAnother("strict-c");
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() > n / 3);
                b.close(); // leaves mid-run: its partitions and its lease move to the others
                await().atMost(Duration.ofSeconds(90)).until(() -> h.count(
                        "SELECT count(DISTINCT request_id) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'") == n);
            } finally {
                c.close();
            }
            Cli.report("[strict-window] three instances sharing %d/s, skewed keys, one leaves: %.1f calls/s (%.3f of the"
                            + " limit), most arrivals in any 1 s %d, over the window %d, 429s %d%n", limit, steadyRate(sandbox),
                    steadyRate(sandbox) / limit, GroupRateLimitIT.maxInWindow(sandbox.calls(), 1_000_000_000L),
                    sandbox.overWindow(), sandbox.throttled());
            assertThat(sandbox.overWindow()).as("calls over the strict one-second window").isZero();
            assertThat(GroupRateLimitIT.maxInWindow(sandbox.calls(), 1_000_000_000L)).isLessThanOrEqualTo(limit);
            assertThat(h.count("SELECT count(DISTINCT worker_instance) FROM audit_event")).isEqualTo(3);
        }
    }
}
