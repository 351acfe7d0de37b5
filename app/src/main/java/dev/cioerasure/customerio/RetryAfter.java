package dev.cioerasure.customerio;

import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/** Parses an HTTP {@code Retry-After} header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
final class RetryAfter {
    /** A server asking for more than this is capped: a whole day of silence is not a plan. */
    static final Duration MAX = Duration.ofHours(1);

    private RetryAfter() { }

    static Optional<Duration> parse(String header, Clock clock) {
        if (header == null) {
            return Optional.empty();
        }
        String v = header.trim();
        if (v.isEmpty()) {
            return Optional.empty();
        }
        if (v.chars().allMatch(Character::isDigit)) {
            if (v.length() > 9) {
                return Optional.of(MAX);
            }
            return Optional.of(min(Duration.ofSeconds(Long.parseLong(v))));
        }
        try {
            ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
            Duration d = Duration.between(clock.instant(), at.toInstant());
            return Optional.of(d.isNegative() ? Duration.ZERO : min(d));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }

    private static Duration min(Duration d) {
        return d.compareTo(MAX) > 0 ? MAX : d;
    }
}
