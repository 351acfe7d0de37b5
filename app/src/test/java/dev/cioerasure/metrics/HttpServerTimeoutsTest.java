package dev.cioerasure.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HttpServerTimeoutsTest {
    private String request;
    private String response;
    private String drain;

    @BeforeEach
    void save() {
        request = System.getProperty(HttpServerTimeouts.MAX_REQUEST_TIME);
        response = System.getProperty(HttpServerTimeouts.MAX_RESPONSE_TIME);
        drain = System.getProperty(HttpServerTimeouts.DRAIN_AMOUNT);
    }

    @AfterEach
    void restore() {
        for (String[] p : new String[][] {{HttpServerTimeouts.MAX_REQUEST_TIME, request}, {HttpServerTimeouts.MAX_RESPONSE_TIME, response},
                {HttpServerTimeouts.DRAIN_AMOUNT, drain}}) {
            if (p[1] == null) {
                System.clearProperty(p[0]);
            } else {
                System.setProperty(p[0], p[1]);
            }
        }
    }

    @Test
    void installsTenSecondsForTheRequestAndTheAnswerAndKeepsWhatAnOperatorSet() {
        System.clearProperty(HttpServerTimeouts.MAX_REQUEST_TIME);
        System.setProperty(HttpServerTimeouts.MAX_RESPONSE_TIME, "3");
        HttpServerTimeouts.install();
        assertThat(System.getProperty("sun.net.httpserver.maxReqTime")).isEqualTo("10");
        assertThat(System.getProperty("sun.net.httpserver.maxRspTime")).isEqualTo("3");
    }

    /** A sender of a body just over the intake's limit reads its 413 instead of a reset (IntakeIT). */
    @Test
    void installsADrainOfOneMebibyteUnlessAnOperatorSetOne() {
        System.clearProperty(HttpServerTimeouts.DRAIN_AMOUNT);
        HttpServerTimeouts.install();
        assertThat(System.getProperty("sun.net.httpserver.drainAmount")).isEqualTo("1048576");
        System.setProperty(HttpServerTimeouts.DRAIN_AMOUNT, "4096");
        HttpServerTimeouts.install();
        assertThat(System.getProperty("sun.net.httpserver.drainAmount")).isEqualTo("4096");
    }
}
