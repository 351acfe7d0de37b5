package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.audit.AuditLog;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/** A worker whose clock is off PostgreSQL's says so: the audit rows' times come from its clock. */
class ClockCheckIT {
    private final DataSource db = TestInfra.dataSource(TestInfra.freshDatabase());

    @Test
    void aClockThirtySecondsAheadIsMeasuredAndLoggedAndOneInStepIsNot() throws Exception {
        SimpleMeterRegistry meters = new SimpleMeterRegistry();
        ClockCheck ahead = new ClockCheck(new AuditLog(db), Clock.offset(Clock.systemUTC(), Duration.ofSeconds(30)), meters);
        try (LogCapture logs = LogCapture.capture()) {
            ahead.check();
            ahead.check(); // the second within 10 minutes is not logged again
            assertThat(ahead.skewSeconds()).isBetween(29.0, 31.0);
            assertThat(meters.get("erasure.clock.skew.seconds").gauge().value()).isBetween(29.0, 31.0);
            assertThat(logs.lines()).filteredOn(l -> l.contains("clock is")).singleElement().asString()
                    .contains("s ahead of PostgreSQL's", "synchronise it (NTP)");
        }
        ClockCheck inStep = new ClockCheck(new AuditLog(db), Clock.systemUTC(), new SimpleMeterRegistry());
        try (LogCapture logs = LogCapture.capture()) {
            inStep.check();
            assertThat(Math.abs(inStep.skewSeconds())).as("the same machine's clocks").isLessThan(1.0);
            assertThat(logs.lines()).noneMatch(l -> l.contains("clock is"));
        }
    }
}
