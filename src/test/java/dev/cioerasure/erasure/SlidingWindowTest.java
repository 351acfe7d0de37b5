package dev.cioerasure.erasure;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SlidingWindowTest {
    private static final long S = SlidingWindow.WINDOW_NANOS;

    @Test
    void noWindowOfOneSecondHoldsMoreThanTheCapacity() {
        SlidingWindow w = new SlidingWindow(3);
        assertThat(w.tryStart(0)).isZero();
        assertThat(w.tryStart(10)).isZero();
        assertThat(w.tryStart(20)).isZero();
        assertThat(w.tryStart(30)).isEqualTo(S - 30);
        assertThat(w.tryStart(S)).isZero();          // the first has left the window
        assertThat(w.tryStart(S + 5)).isEqualTo(5);   // the second leaves at S + 10
    }

    @Test
    void resizingKeepsTheRecentCalls() {
        SlidingWindow w = new SlidingWindow(4);
        for (int i = 0; i < 4; i++) {
            assertThat(w.tryStart(i)).isZero();
        }
        SlidingWindow smaller = w.resized(2);
        assertThat(smaller.tryStart(10)).as("the last two calls still count").isPositive();
        SlidingWindow larger = w.resized(6);
        assertThat(larger.tryStart(10)).isZero();
        assertThat(larger.tryStart(11)).isZero();
        assertThat(larger.tryStart(12)).isPositive();
    }
}
