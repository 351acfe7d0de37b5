package dev.cioerasure.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HttpServerLimitsTest {
    private String request;
    private String response;
    private String drain;
    private String connections;

    @BeforeEach
    void save() {
        request = System.getProperty(HttpServerLimits.MAX_REQUEST_TIME);
        response = System.getProperty(HttpServerLimits.MAX_RESPONSE_TIME);
        drain = System.getProperty(HttpServerLimits.DRAIN_AMOUNT);
        connections = System.getProperty(HttpServerLimits.MAX_CONNECTIONS);
    }

    @AfterEach
    void restore() {
        for (String[] p : new String[][] {{HttpServerLimits.MAX_REQUEST_TIME, request}, {HttpServerLimits.MAX_RESPONSE_TIME, response},
                {HttpServerLimits.DRAIN_AMOUNT, drain}, {HttpServerLimits.MAX_CONNECTIONS, connections}}) {
            if (p[1] == null) {
                System.clearProperty(p[0]);
            } else {
                System.setProperty(p[0], p[1]);
            }
        }
    }

    @Test
    void installsTenSecondsForTheRequestAndTheAnswerAndKeepsWhatAnOperatorSet() {
        System.clearProperty(HttpServerLimits.MAX_REQUEST_TIME);
        System.setProperty(HttpServerLimits.MAX_RESPONSE_TIME, "3");
        HttpServerLimits.install();
        assertThat(System.getProperty("sun.net.httpserver.maxReqTime")).isEqualTo("10");
        assertThat(System.getProperty("sun.net.httpserver.maxRspTime")).isEqualTo("3");
    }

    /** A sender of a body just over the intake's limit reads its 413 instead of a reset (IntakeIT). */
    @Test
    void installsADrainOfOneMebibyteUnlessAnOperatorSetOne() {
        System.clearProperty(HttpServerLimits.DRAIN_AMOUNT);
        HttpServerLimits.install();
        assertThat(System.getProperty("sun.net.httpserver.drainAmount")).isEqualTo("1048576");
        System.setProperty(HttpServerLimits.DRAIN_AMOUNT, "4096");
        HttpServerLimits.install();
        assertThat(System.getProperty("sun.net.httpserver.drainAmount")).isEqualTo("4096");
    }

    /** A flood of connections is closed at the door instead of taking every file descriptor (SlowClientsIT). */
    @Test
    void installsAConnectionLimitOfAThousandOrAQuarterOfTheFileDescriptorsUnlessAnOperatorSetOne() {
        System.clearProperty(HttpServerLimits.MAX_CONNECTIONS);
        HttpServerLimits.install();
        assertThat(Long.parseLong(System.getProperty("jdk.httpserver.maxConnections"))).isBetween(16L, 1000L);
        System.setProperty(HttpServerLimits.MAX_CONNECTIONS, "50");
        HttpServerLimits.install();
        assertThat(System.getProperty("jdk.httpserver.maxConnections")).isEqualTo("50");

        assertThat(HttpServerLimits.maxConnections(1_048_576)).isEqualTo(1000);
        assertThat(HttpServerLimits.maxConnections(1024)).isEqualTo(256);
        assertThat(HttpServerLimits.maxConnections(40)).isEqualTo(16);
        assertThat(HttpServerLimits.maxConnections(-1)).isEqualTo(1000);
    }
}
