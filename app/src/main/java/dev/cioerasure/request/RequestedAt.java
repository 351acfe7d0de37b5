package dev.cioerasure.request;

import java.time.DateTimeException;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code requested_at}: an RFC 3339 {@code date-time} (section 5.6), and the two shorter
 * forms Java's {@code OffsetDateTime.toString()} writes (seconds left out when they are zero, as
 * in {@code 2026-11-28T10:00Z}; an offset with seconds), which producers written in Java send
 * and which this worker took before.
 *
 * <p>Java's ISO parser alone, which read {@code requested_at} before, refused two RFC 3339 forms:
 * a leap second ({@code 23:59:60} UTC) and a fraction of more than nine digits. A leap second is
 * read as {@code 23:59:59} with its fraction, as Java's {@code ISO_INSTANT} reads it (Java's time
 * scale has no leap second); a fraction is cut to nanoseconds.
 */
final class RequestedAt {
    /** ASCII digits only; {@code T} and {@code Z} in either case, as RFC 3339 allows. */
    private static final Pattern FORM = Pattern.compile(
            "(\\d{4}-\\d{2}-\\d{2})[Tt](\\d{2}:\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?([Zz]|[+-]\\d{2}:\\d{2}(?::\\d{2})?|[+-]\\d{2})");

    private RequestedAt() { }

    /** @throws DateTimeException when {@code text} is not one of the forms, or names no real time */
    static OffsetDateTime parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new DateTimeException("not an RFC 3339 date-time");
        }
        String seconds = m.group(3) == null ? "00" : m.group(3);
        boolean leapSecond = seconds.equals("60");
        String fraction = m.group(4) == null ? "" : "." + (m.group(4).length() > 9 ? m.group(4).substring(0, 9) : m.group(4));
        OffsetDateTime read = OffsetDateTime.parse(m.group(1) + "T" + m.group(2) + ":" + (leapSecond ? "59" : seconds)
                + fraction + m.group(5).toUpperCase(Locale.ROOT));
        if (leapSecond && !read.withOffsetSameInstant(ZoneOffset.UTC).toLocalTime().withNano(0).equals(LocalTime.of(23, 59, 59))) {
            throw new DateTimeException("a leap second is 23:59:60 UTC");
        }
        return read;
    }
}
