package dev.cioerasure.erasure;

import io.github.resilience4j.core.IntervalBiFunction;
import io.github.resilience4j.core.IntervalFunction;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.function.Function;

/** Waiting, as the Track and App API calls both do it. */
final class Backoff {
    private Backoff() { }

    /**
     * Retry delays: exponential from {@code initial} with ±50 % jitter, never longer than
     * {@code max}, and never sooner than the server's {@code Retry-After}: a result asking for more
     * than {@code max} is not retried in line at all ({@link #waitsInLine}).
     */
    static <T> IntervalBiFunction<T> honouringRetryAfter(Duration initial, Duration max, Function<T, Optional<Duration>> retryAfter) {
        IntervalFunction backoff = IntervalFunction.ofExponentialRandomBackoff(initial, 2.0, 0.5, max);
        long capMillis = max.toMillis();
        return (attempt, either) -> {
            long wait = backoff.apply(attempt);
            if (either.isRight()) {
                Optional<Duration> asked = retryAfter.apply(either.get());
                if (asked.isPresent()) {
                    wait = Math.max(wait, asked.get().toMillis());
                }
            }
            return Math.min(wait, capMillis);
        };
    }

    /**
     * Whether a retryable result may be tried again in line, after at most {@code max}: not when
     * the server asked for a longer wait. Capped at {@code max}, such a call went again sooner
     * than the server asked (a Retry-After of 60 s, retried after 30 s): the request goes to a
     * later retry round instead, due no sooner than the server asked.
     */
    static boolean waitsInLine(Optional<Duration> retryAfter, Duration max) {
        return retryAfter.isEmpty() || retryAfter.get().compareTo(max) <= 0;
    }

    /**
     * Sleeps (at least 1 ms).
     *
     * @throws CancellationException when interrupted (shutdown), saying what was waited for
     */
    static void sleep(Duration d, String what) {
        try {
            Thread.sleep(Math.max(1, d.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("shutting down while " + what);
        }
    }
}
