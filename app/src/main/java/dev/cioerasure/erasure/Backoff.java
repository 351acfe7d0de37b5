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
     * Retry delays: exponential from {@code initial} with ±50 % jitter, never sooner than the
     * server's {@code Retry-After}, never longer than {@code max}.
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
