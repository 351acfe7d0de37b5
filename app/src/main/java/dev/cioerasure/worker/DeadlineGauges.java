package dev.cioerasure.worker;

import dev.cioerasure.audit.OpenRequests;
import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes where the regulation deadlines stand, from the audit table: how many requests are
 * not yet erased, how many of those are overdue, and the age of the oldest. Refreshed
 * periodically ({@link OpenRequests}: the rows appended since the last refresh) rather than per
 * scrape, on a thread of its own, so a slow or unreachable database delays nothing else.
 */
final class DeadlineGauges {
    private static final Logger log = LoggerFactory.getLogger(DeadlineGauges.class);
    static final Duration REFRESH = Duration.ofSeconds(30);

    private final OpenRequests openRequests;
    private final Clock clock;
    private final AtomicReference<OpenRequests.Summary> last = new AtomicReference<>();

    DeadlineGauges(OpenRequests openRequests, Clock clock, MeterRegistry meters) {
        this.openRequests = openRequests;
        this.clock = clock;
        Gauge.builder(MetricNames.OPEN, this, g -> g.value(s -> s.open()))
                .description("Requests not yet erased (parked, failed or rejected)").register(meters);
        Gauge.builder(MetricNames.OVERDUE, this, g -> g.value(s -> s.overdue()))
                .description("Requests not yet erased whose regulation deadline has passed").register(meters);
        Gauge.builder(MetricNames.OLDEST_OPEN_AGE, this, g -> g.value(s -> s.oldestOpenSince()
                        .map(t -> (double) Duration.between(t, clock.instant()).toSeconds()).orElse(0.0)))
                .description("Age of the oldest request not yet erased (a rejected one without a valid requested_at: since its rejection)")
                .baseUnit("seconds").register(meters);
    }

    private double value(java.util.function.Function<OpenRequests.Summary, Number> f) {
        OpenRequests.Summary s = last.get();
        return s == null ? Double.NaN : f.apply(s).doubleValue();
    }

    void schedule(ScheduledExecutorService scheduler) {
        dev.cioerasure.threads.Repeating.every(scheduler, "the deadline gauges' refresh", this::refresh, 0, REFRESH.toSeconds(), TimeUnit.SECONDS);
    }

    void refresh() {
        try {
            last.set(openRequests.refresh(clock.instant()));
        } catch (SQLException | RuntimeException e) {
            log.debug("deadline summary unavailable: {}", e.toString());
        }
    }
}
