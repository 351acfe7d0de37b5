package dev.cioerasure.erasure;

import java.time.Duration;

/**
 * How Track calls are paced, retried and cut off during an outage.
 *
 * @param callsPerSecond   the Track calls per second this instance may make
 * @param maxAttempts      in-line attempts per call (1 = no retry)
 * @param initialBackoff   first retry delay; doubles per attempt, with ±50 % jitter
 * @param maxBackoff       cap of one retry delay, also of an honoured {@code Retry-After}
 * @param breakerOpenFor   how long the circuit breaker stays open after Customer.io looks down,
 *                         before a few probe calls test it again
 * @param credentialProbeEvery while Customer.io refuses the credentials, how often one call probes them
 * @param headroomPercent  pace this much below the limit, for servers that count differently (0..50)
 * @param unansweredGrace  how much longer a call that got no response (timeout, I/O error) holds
 *                         its slot of the arrival window, as its request may still arrive
 */
public record TrackPolicy(int callsPerSecond, int maxAttempts, Duration initialBackoff, Duration maxBackoff,
                          Duration breakerOpenFor, Duration credentialProbeEvery, int headroomPercent, Duration unansweredGrace) {
    public TrackPolicy {
        if (callsPerSecond < 1 || maxAttempts < 1) {
            throw new IllegalArgumentException("callsPerSecond and maxAttempts must be >= 1");
        }
        if (headroomPercent < 0 || headroomPercent > 50) {
            throw new IllegalArgumentException("headroomPercent must be 0..50");
        }
    }

    public TrackPolicy(int callsPerSecond, int maxAttempts, Duration initialBackoff, Duration maxBackoff,
                       Duration breakerOpenFor, Duration credentialProbeEvery) {
        this(callsPerSecond, maxAttempts, initialBackoff, maxBackoff, breakerOpenFor, credentialProbeEvery, 0, Duration.ofSeconds(2));
    }

}
