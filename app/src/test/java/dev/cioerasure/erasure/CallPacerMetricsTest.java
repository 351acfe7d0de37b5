package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.metrics.Metrics;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A new grant replaces the rate limiter. Its gauges must not be removed and registered again
 * with it: a Prometheus scrape that ran meanwhile failed with "Duplicate labels for metric
 * resilience4j_ratelimiter_waiting_threads" (micrometer-metrics/micrometer#6851), an HTTP 500
 * on /metrics of a worker whose group budget moves.
 */
class CallPacerMetricsTest {
    @Test
    void scrapesWhileTheGrantChangesAllSucceedAndShowTheCurrentLimiter() throws Exception {
        PrometheusMeterRegistry registry = Metrics.prometheus();
        CallPacer pacer = new CallPacer(new TrackPolicy(100, 3, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofSeconds(30),
                Duration.ofMillis(50)), Metrics.forWorkspace(registry, "default"), null);
        AtomicBoolean done = new AtomicBoolean();
        Thread grants = new Thread(() -> {
            long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            for (int i = 0; System.nanoTime() < until; i++) {
                pacer.setGrant(i % 2 == 0 ? 40 : 60, Long.MAX_VALUE);
            }
            done.set(true);
        });
        grants.start();
        List<Throwable> failures = new ArrayList<>();
        int scrapes = 0;
        while (!done.get()) {
            try {
                registry.scrape();
            } catch (RuntimeException e) {
                failures.add(e);
            }
            scrapes++;
        }
        grants.join();
        assertThat(scrapes).isPositive();
        assertThat(failures).as("failed scrapes of %d", scrapes).isEmpty();
        pacer.setGrant(90, Long.MAX_VALUE); // 9 permits a 100 ms period, where 40 and 60 had 2 and 3 a 50 ms one
        assertThat(registry.scrape()).containsPattern(
                "resilience4j_ratelimiter_available_permissions\\{[^}]*name=\"customerio-track\"[^}]*workspace=\"default\"[^}]*} 9\\.0")
                .containsPattern("resilience4j_ratelimiter_waiting_threads\\{[^}]*name=\"customerio-track\"[^}]*} 0\\.0");
    }
}
