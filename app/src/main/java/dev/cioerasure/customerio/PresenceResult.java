package dev.cioerasure.customerio;

import java.time.Duration;
import java.util.Optional;

/**
 * The classified answer of one App API look-up. Never carries the identifier or the response
 * body (which holds the person's attributes).
 *
 * @param status     HTTP status, or 0 when no response arrived
 * @param retryAfter the server's {@code Retry-After}, when it sent one
 * @param detail     a short reason without personal data (e.g. {@code http 429}, {@code timeout})
 */
public record PresenceResult(int status, Kind kind, Optional<Duration> retryAfter, String detail) {

    public enum Kind {
        /** 404: Customer.io has no such person. */
        GONE,
        /** 2xx: the person exists. */
        PRESENT,
        /** 408, 429, 5xx, I/O errors and timeouts: ask again later. */
        RETRYABLE,
        /** 401/403: the App API key is wrong or lacks the permission. */
        UNAUTHORIZED,
        /** Any other 4xx: the question itself is wrong; asking again will not help. */
        PERMANENT
    }

    /** Classifies an HTTP status of the App API's person look-up. */
    public static Kind classify(int status) {
        if (status == 404) {
            return Kind.GONE;
        }
        // otherwise as a Track call: 2xx an answer, 3xx (never followed, a misdirected base URL),
        // 408, 429 and 5xx asked again until the deadline, 401/403 refused credentials
        return switch (TrackResult.classify(status)) {
            case SUCCESS -> Kind.PRESENT;
            case RETRYABLE -> Kind.RETRYABLE;
            case UNAUTHORIZED -> Kind.UNAUTHORIZED;
            case PERMANENT, PAUSED -> Kind.PERMANENT; // PAUSED is no status's kind: no call was made
        };
    }

    /** An answer about the person (gone or present), as opposed to an error. */
    public boolean isAnswer() {
        return kind == Kind.GONE || kind == Kind.PRESENT;
    }

    /** The status: the code, or the kind of failure when there was no response (the last check's, in the verification record). */
    public String statusTag() {
        return status > 0 ? Integer.toString(status) : detail;
    }

    /** The metrics' status tag, from a bounded set ({@link StatusTags}). */
    public String metricTag() {
        return StatusTags.of(status, detail);
    }
}
