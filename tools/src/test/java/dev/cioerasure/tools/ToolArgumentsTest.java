package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Cli;
import java.net.ServerSocket;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The tools' arguments are settings like the product's: a bad one is exit 2, a busy port exit 78, each in one line. */
class ToolArgumentsTest {
    private static final Map<String, String> ENV = Map.of("CUSTOMERIO_SITE_ID", "site", "CUSTOMERIO_TRACK_API_KEY", "key");

    @Test
    void aPortOutOfRangeOrInUseSaysSoInsteadOfFailing() throws Exception {
        Cli.Run outOfRange = Cli.run(ToolsMain::run, ENV, "sandbox", "--port", "99999");
        assertThat(outOfRange.exit()).isEqualTo(2);
        assertThat(outOfRange.err().strip()).isEqualTo("cio-erasure: --port must be 0..65535 (0: any free port)");
        try (ServerSocket busy = new ServerSocket(0)) {
            Cli.Run inUse = Cli.run(ToolsMain::run, ENV, "sandbox", "--port", Integer.toString(busy.getLocalPort()));
            assertThat(inUse.exit()).isEqualTo(78);
            assertThat(inUse.err().strip()).isEqualTo("cio-erasure: --port: port " + busy.getLocalPort()
                    + " is already in use (or not allowed); choose another");
        }
    }

    /** Both were found only after Kafka and PostgreSQL had started, and ended with exit 70 and a Java exception. */
    @Test
    void theDemoChecksItsArgumentsBeforeStartingAnything() {
        for (String[] args : new String[][] {{"--requests", "0"}, {"--requests", "-1"}, {"--requests", "10001"}, {"--metrics-port", "99999"}}) {
            Cli.Run run = Cli.run(ToolsMain::run, Map.of(), "demo", args[0], args[1]);
            assertThat(run.exit()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(run.err()).as(String.join(" ", args)).startsWith("cio-erasure: " + args[0] + " must be ")
                    .doesNotContain("Exception");
            assertThat(run.out()).as("nothing started").doesNotContain("starting embedded");
        }
    }
}
