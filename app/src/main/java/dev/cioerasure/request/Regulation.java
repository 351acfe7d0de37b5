package dev.cioerasure.request;

import java.time.Instant;
import java.time.ZoneOffset;

/** The law a request is made under, which fixes its deadline. */
public enum Regulation {
    /** GDPR Art. 12(3): without undue delay and in any event within one month of receipt. */
    GDPR,
    /** CCPA / CPRA: respond within 45 calendar days. */
    CCPA;

    /** The latest moment the erasure must be done, counted from when the request was made. */
    public Instant deadline(Instant requestedAt) {
        return switch (this) {
            case GDPR -> requestedAt.atZone(ZoneOffset.UTC).plusMonths(1).toInstant();
            case CCPA -> requestedAt.atZone(ZoneOffset.UTC).plusDays(45).toInstant();
        };
    }
}
