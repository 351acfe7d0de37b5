package dev.cioerasure.customerio;

import java.time.Duration;
import java.util.Optional;

/**
 * The classified outcome of one Track API call. Never carries the identifier or response body.
 *
 * @param status     HTTP status, or 0 when no response arrived (I/O error, timeout)
 * @param kind       how the caller must treat it
 * @param retryAfter the server's {@code Retry-After}, when it sent one
 * @param detail     a short reason without personal data (e.g. {@code http 429}, {@code timeout})
 * @param latency    time spent on the call
 */
public record TrackResult(TrackOperation operation, int status, Kind kind, Optional<Duration> retryAfter,
                          String detail, Duration latency) {

    public enum Kind {
        /** 2xx. */
        SUCCESS,
        /** 408, 429, 5xx, I/O errors and timeouts: try again later. */
        RETRYABLE,
        /** 401/403: the credentials are wrong; retrying will not help, an operator must act. */
        UNAUTHORIZED,
        /** Any other 4xx: the request itself is wrong; do not retry. */
        PERMANENT,
        /**
         * No call was made: the workspace is paused (Customer.io looks down, or refuses its
         * credentials) and the caller asked not to wait for it. Try again later; not a failure.
         */
        PAUSED
    }

    /** The result of a call not made because the workspace is paused (see {@link Kind#PAUSED}). */
    public static TrackResult paused(TrackOperation op, String why) {
        return new TrackResult(op, 0, Kind.PAUSED, Optional.empty(), why, Duration.ZERO);
    }

    public boolean isSuccess() {
        return kind == Kind.SUCCESS;
    }

    public boolean isRetryable() {
        return kind == Kind.RETRYABLE;
    }

    /** Classifies an HTTP status as the Track API documents it. */
    public static Kind classify(int status) {
        if (status >= 200 && status < 300) {
            return Kind.SUCCESS;
        }
        if (status == 408 || status == 429 || status >= 500 && status < 600) {
            return Kind.RETRYABLE;
        }
        if (status >= 300 && status < 400) {
            // The Track API does not redirect: a 3xx comes from a base URL on http:// or a proxy in
            // the way, and answers every call alike. Never followed (it would carry the key
            // elsewhere); taken as an outage, so erasures wait behind the breaker and its alert
            // instead of each one being FAILED and dead-lettered.
            return Kind.RETRYABLE;
        }
        if (status == 401 || status == 403) {
            return Kind.UNAUTHORIZED;
        }
        return Kind.PERMANENT;
    }

    /** The detail (and status tag) of a call whose TLS set-up failed: an untrusted certificate, no protocol in common. */
    public static final String TLS_FAILED = "tls_error";

    /** The status: the code, or {@code io_error}/{@code timeout} when there was no response. */
    public String statusTag() {
        return status > 0 ? Integer.toString(status) : detail;
    }

    /** The metrics' status tag, from a bounded set ({@link StatusTags}). */
    public String metricTag() {
        return StatusTags.of(status, detail);
    }
}
