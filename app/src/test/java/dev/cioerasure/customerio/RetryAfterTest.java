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

    /** RFC 9110 §5.6.7: a recipient MUST accept all three HTTP-date formats (an older proxy may send the obsolete two). */
    @Test
    void readsTheObsoleteRfc850AndAsctimeDates() {
        assertThat(RetryAfter.parse("Sunday, 29-Nov-26 10:00:30 GMT", clock)).contains(Duration.ofSeconds(30));
        assertThat(RetryAfter.parse("Sun Nov 29 10:01:00 2026", clock)).contains(Duration.ofSeconds(60));
        assertThat(RetryAfter.parse("Sun Dec  6 10:00:00 2026", clock)).as("asctime pads a one-digit day with a space")
                .contains(RetryAfter.MAX);
        assertThat(RetryAfter.parse("Tuesday, 29-Nov-77 10:00:30 GMT", clock))
                .as("a two-digit year more than 50 years ahead is the past one (1977): retry now").contains(Duration.ZERO);
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
