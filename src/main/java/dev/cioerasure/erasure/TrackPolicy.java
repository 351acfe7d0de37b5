package dev.cioerasure.erasure;

import java.time.Duration;

/**
 * How Track calls are paced and retried.
 *
 * @param callsPerSecond  the Track calls per second this instance may make
 * @param maxAttempts     in-line attempts per call (1 = no retry)
 * @param initialBackoff  first retry delay; doubles per attempt, with ±50 % jitter
 * @param maxBackoff      cap of one retry delay, also of an honoured {@code Retry-After}
 */
public record TrackPolicy(int callsPerSecond, int maxAttempts, Duration initialBackoff, Duration maxBackoff) {
    public TrackPolicy {
        if (callsPerSecond < 1 || maxAttempts < 1) {
            throw new IllegalArgumentException("callsPerSecond and maxAttempts must be >= 1");
        }
    }

    public static TrackPolicy defaults(int callsPerSecond, int maxAttempts) {
        return new TrackPolicy(callsPerSecond, maxAttempts, Duration.ofMillis(250), Duration.ofSeconds(30));
    }
}
