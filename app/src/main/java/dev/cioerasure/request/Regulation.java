package dev.cioerasure.request;

import java.time.Instant;
import java.time.ZoneOffset;

/** The law a request is made under, which fixes its deadline. */
public enum Regulation {
    /** GDPR Art. 12(3): without undue delay and in any event within one month of receipt. */
    GDPR,
    /** CCPA / CPRA: respond within 45 calendar days. */
    CCPA;

    /** The latest moment the erasure must be done, counted from when the request was made, in UTC. */
    public Instant deadline(Instant requestedAt) {
        return deadline(requestedAt, ZoneOffset.UTC);
    }

    /**
     * The latest moment the erasure must be done: the earlier of the ends counted on UTC's calendar
     * and on the calendar of the offset requested_at was written with. They differ only where a
     * month's end is cut short: 2026-03-31T01:00+02:00 is the 30th in UTC, and one month from it
     * is 2026-04-30T01:00+02:00 by its own calendar, a day before 2026-04-30T23:00Z. UTC alone
     * gave that day more than the person's (and the privacy team's) calendar allows.
     */
    public Instant deadline(Instant requestedAt, ZoneOffset writtenWith) {
        return switch (this) {
            case GDPR -> earlier(requestedAt.atOffset(ZoneOffset.UTC).plusMonths(1).toInstant(),
                    requestedAt.atOffset(writtenWith).plusMonths(1).toInstant());
            // days are the same length on every fixed-offset calendar
            case CCPA -> requestedAt.atOffset(ZoneOffset.UTC).plusDays(45).toInstant();
        };
    }

    private static Instant earlier(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }
}
