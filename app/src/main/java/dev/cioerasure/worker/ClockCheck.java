package dev.cioerasure.worker;

import dev.cioerasure.audit.AuditLog;
import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares this machine's clock with PostgreSQL's. The audit rows' {@code occurred_at}, and so
 * whether an erasure was on time, come from the worker's clock, and a regulator will be shown
 * them: a clock that has drifted makes late erasures look on time (or the reverse). Published as
 * {@code erasure_clock_skew_seconds} (alert {@code ErasureClockSkew}), and logged while it is
 * more than {@link #WARN_AFTER} off.
 */
final class ClockCheck {
    private static final Logger log = LoggerFactory.getLogger(ClockCheck.class);
    static final Duration EVERY = Duration.ofMinutes(1);
    static final Duration WARN_AFTER = Duration.ofSeconds(2);
    private static final Duration WARN_AGAIN = Duration.ofMinutes(10);

    private final AuditLog auditLog;
    private final Clock clock;
    private volatile double skewSeconds = Double.NaN;
    private long lastWarned = Long.MIN_VALUE;

    ClockCheck(AuditLog auditLog, Clock clock, MeterRegistry meters) {
        this.auditLog = auditLog;
        this.clock = clock;
        Gauge.builder(MetricNames.CLOCK_SKEW, this, c -> c.skewSeconds)
                .description("How far this machine's clock is ahead of PostgreSQL's (negative: behind); audit rows' occurred_at use it")
                .baseUnit("seconds").register(meters);
    }

    void schedule(ScheduledExecutorService scheduler) {
        dev.cioerasure.threads.Repeating.every(scheduler, "the clock check", this::check, 0, EVERY.toSeconds(), TimeUnit.SECONDS);
    }

    void check() {
        Duration skew;
        try {
            skew = auditLog.clockSkew(clock);
        } catch (SQLException | RuntimeException e) {
            return; // the database's own health is reported elsewhere
        }
        skewSeconds = skew.toMillis() / 1000.0;
        long now = System.nanoTime();
        if (skew.abs().compareTo(WARN_AFTER) > 0 && (lastWarned == Long.MIN_VALUE || now - lastWarned > WARN_AGAIN.toNanos())) {
            lastWarned = now;
            log.warn("this machine's clock is {} s {} PostgreSQL's: audit rows' occurred_at, and whether an erasure was on time,"
                    + " come from this clock; synchronise it (NTP)", String.format("%.1f", Math.abs(skewSeconds)),
                    skew.isNegative() ? "behind" : "ahead of");
        }
    }

    double skewSeconds() {
        return skewSeconds;
    }
}
