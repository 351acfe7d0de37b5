package dev.cioerasure.erasure;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;

/** How a circuit breaker's change of state is told in the log. */
final class BreakerTransitions {
    private BreakerTransitions() { }

    /**
     * For example "CLOSED → OPEN (failure rate 100.0 % of the last 50 calls)". Right after it opens,
     * the breaker has measured no call yet and reports a rate of -1: that is said in words, not as
     * "-1.0 %".
     */
    static String describe(CircuitBreaker.StateTransition t, CircuitBreaker.Metrics m) {
        String rate = m.getFailureRate() < 0
                ? "no calls measured since the last change"
                : String.format(java.util.Locale.ROOT, "failure rate %.1f %% of the last %d calls", m.getFailureRate(),
                        m.getNumberOfBufferedCalls());
        return t.getFromState() + " → " + t.getToState() + " (" + rate + ")";
    }
}
