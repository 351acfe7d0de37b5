package dev.cioerasure.customerio;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.List;
import java.util.Locale;
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
        return httpDate(v, clock).map(at -> {
            Duration d = Duration.between(clock.instant(), at);
            return d.isNegative() ? Duration.ZERO : min(d);
        });
    }

    /**
     * An HTTP-date in any of its three formats, which a recipient must all accept (RFC 9110
     * §5.6.7): IMF-fixdate ({@code Sun, 06 Nov 1994 08:49:37 GMT}), the obsolete RFC 850
     * ({@code Sunday, 06-Nov-94 08:49:37 GMT}; a two-digit year more than 50 years ahead is
     * the past one) and asctime ({@code Sun Nov  6 08:49:37 1994}, UTC).
     */
    private static Optional<Instant> httpDate(String v, Clock clock) {
        int thisYear = LocalDate.now(clock.withZone(ZoneOffset.UTC)).getYear();
        DateTimeFormatter rfc850 = new DateTimeFormatterBuilder().appendPattern("EEEE, dd-MMM-")
                .appendValueReduced(ChronoField.YEAR, 2, 2, thisYear - 49).appendPattern(" HH:mm:ss 'GMT'")
                .toFormatter(Locale.US).withZone(ZoneOffset.UTC);
        for (DateTimeFormatter f : List.of(DateTimeFormatter.RFC_1123_DATE_TIME, rfc850, ASCTIME)) {
            try {
                return Optional.of(ZonedDateTime.parse(v, f).toInstant());
            } catch (DateTimeParseException e) {
                // the next format
            }
        }
        return Optional.empty();
    }

    private static final DateTimeFormatter ASCTIME = DateTimeFormatter.ofPattern("EEE MMM ppd HH:mm:ss yyyy", Locale.US)
            .withZone(ZoneOffset.UTC);

    private static Duration min(Duration d) {
        return d.compareTo(MAX) > 0 ? MAX : d;
    }
}
