package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BreakerTransitionsTest {
    @Test
    void aTransitionNamesBothStatesAndARateOnlyWhenOneWasMeasured() {
        CircuitBreaker breaker = CircuitBreaker.of("t", CircuitBreakerConfig.custom()
                .slidingWindow(4, 4, CircuitBreakerConfig.SlidingWindowType.COUNT_BASED).failureRateThreshold(50).build());
        List<String> told = new ArrayList<>();
        breaker.getEventPublisher().onStateTransition(e -> told.add(BreakerTransitions.describe(e.getStateTransition(),
                breaker.getMetrics())));
        breaker.onSuccess(1, TimeUnit.MILLISECONDS);
        for (int i = 0; i < 3; i++) {
            breaker.onError(1, TimeUnit.MILLISECONDS, new RuntimeException("down"));
        }
        breaker.transitionToHalfOpenState();

        assertThat(told).containsExactly("CLOSED → OPEN (failure rate 75.0 % of the last 4 calls)",
                "OPEN → HALF_OPEN (no calls measured since the last change)");
        assertThat(String.join("\n", told)).doesNotContain("-1");
    }
}
