package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class RetryAfterTest {
    private final Clock clock = Clock.fixed(Instant.parse("2026-11-29T10:00:00Z"), ZoneOffset.UTC);

    @Test
    void readsDelaySeconds() {
        assertThat(RetryAfter.parse("7", clock)).contains(Duration.ofSeconds(7));
        assertThat(RetryAfter.parse(" 0 ", clock)).contains(Duration.ZERO);
    }

    @Test
    void readsAnHttpDateRelativeToNow() {
        assertThat(RetryAfter.parse("Sun, 29 Nov 2026 10:00:30 GMT", clock)).contains(Duration.ofSeconds(30));
    }

    @Test
    void aDateInThePastMeansRetryNow() {
        assertThat(RetryAfter.parse("Sun, 29 Nov 2026 09:00:00 GMT", clock)).contains(Duration.ZERO);
    }

    @Test
    void capsAbsurdDelays() {
        assertThat(RetryAfter.parse("99999999999999", clock)).contains(RetryAfter.MAX);
        assertThat(RetryAfter.parse("86400", clock)).contains(RetryAfter.MAX);
    }

    @Test
    void ignoresGarbage() {
        assertThat(RetryAfter.parse(null, clock)).isEmpty();
        assertThat(RetryAfter.parse("", clock)).isEmpty();
        assertThat(RetryAfter.parse("-5", clock)).isEmpty();
        assertThat(RetryAfter.parse("soon", clock)).isEmpty();
        assertThat(RetryAfter.parse("1.5", clock)).isEmpty();
    }
}
