package dev.cioerasure.request;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class RegulationTest {
    @Test
    void gdprAllowsOneCalendarMonth() {
        assertThat(Regulation.GDPR.deadline(Instant.parse("2026-01-31T12:00:00Z"))).isEqualTo(Instant.parse("2026-02-28T12:00:00Z"));
        assertThat(Regulation.GDPR.deadline(Instant.parse("2026-11-28T10:00:00Z"))).isEqualTo(Instant.parse("2026-12-28T10:00:00Z"));
    }

    /**
     * Counted on UTC's calendar alone, a request written 2026-03-31T01:00+02:00 (the 30th in UTC)
     * had until 2026-04-30T23:00Z, a day after the month its own calendar gives it.
     */
    @Test
    void gdprsMonthEndsOnTheEarlierOfUtcsCalendarAndTheOneTheRequestWasWrittenIn() {
        java.time.ZoneOffset berlin = java.time.ZoneOffset.ofHours(2);
        Instant lateNight = java.time.OffsetDateTime.parse("2026-03-31T01:00:00+02:00").toInstant();
        assertThat(Regulation.GDPR.deadline(lateNight, berlin)).isEqualTo(Instant.parse("2026-04-29T23:00:00Z"));
        assertThat(Regulation.GDPR.deadline(lateNight)).as("UTC's calendar alone").isEqualTo(Instant.parse("2026-04-30T23:00:00Z"));
        // west of UTC the UTC calendar is the earlier one, and stays
        Instant evening = java.time.OffsetDateTime.parse("2026-01-30T20:00:00-05:00").toInstant();
        assertThat(Regulation.GDPR.deadline(evening, java.time.ZoneOffset.ofHours(-5))).isEqualTo(Instant.parse("2026-02-28T01:00:00Z"));
        // away from a month's end both calendars agree
        Instant midMonth = java.time.OffsetDateTime.parse("2026-03-15T01:00:00+02:00").toInstant();
        assertThat(Regulation.GDPR.deadline(midMonth, berlin)).isEqualTo(Regulation.GDPR.deadline(midMonth));
        assertThat(Regulation.CCPA.deadline(lateNight, berlin)).isEqualTo(Regulation.CCPA.deadline(lateNight));
    }

    @Test
    void ccpaAllowsFortyFiveDays() {
        assertThat(Regulation.CCPA.deadline(Instant.parse("2026-11-28T10:00:00Z"))).isEqualTo(Instant.parse("2027-01-12T10:00:00Z"));
    }

    @Test
    void identifierToStringHidesTheValue() {
        assertThat(Identifier.email("jane@example.com").toString()).doesNotContain("jane").contains("email");
        assertThat(new ErasureRequest("r1", Identifier.email("jane@example.com"), Regulation.GDPR, Instant.EPOCH, "desk").toString())
                .doesNotContain("jane").contains("r1");
    }
}
