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
