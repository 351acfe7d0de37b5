package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Cli;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The README's first command, as a newcomer runs it: its own output only, and a summary that adds up. */
class DemoIT {
    @Test
    void theDemoErasesTheSamplesAndItsSummaryCountsEveryMessage() {
        Cli.Run run = Cli.run(ToolsMain::run, Map.of(), "demo", "--metrics-port", "0");
        assertThat(run.exit()).as(run.err()).isZero();
        // what the demo itself prints: log lines (ISO-8601 in the product, HH:mm:ss.SSS under the tests' logback-test.xml) go
        String out = run.out().lines().filter(l -> !l.matches("^(\\d{4}-\\d\\d-\\d\\dT)?\\d\\d:\\d\\d:\\d\\d\\.\\d{3} .*")).reduce("", (a, b) -> a + b + "\n");
        Cli.Run r = new Cli.Run(run.exit(), out, run.err());
        assertThat(r.out()).doesNotContain("Formatting metadata", "Bootstrap metadata")
                .as("the metrics URL is printed only with --keep-running, while it is alive").doesNotContain("/metrics");
        assertThat(r.out()).contains("submitted 24 messages (20 valid, 1 duplicate, 3 malformed)");
        assertThat(r.out()).as("the demo's worker logs in as a member of cio_erasure_writer only").doesNotContain("DATABASE_USER: ");
        assertThat(r.out()).containsPattern("(?m)^  COMPLETED\\s+20$").containsPattern("(?m)^  DUPLICATE\\s+1$")
                .containsPattern("(?m)^  REJECTED\\s+3$");
        assertThat(r.out()).contains("demo finished in");
        assertThat(r.out()).as("two workspaces: four requests name brand-eu only, the others go to both")
                .containsPattern("(?m)^  brand-eu\\s+SUCCEEDED\\s+20$").containsPattern("(?m)^  brand-us\\s+SUCCEEDED\\s+16$")
                .doesNotContainPattern("(?m)^  brand-\\w+\\s+FAILED");
        assertThat(r.out()).as("every erasure verified gone through its workspace's App API")
                .containsPattern("(?m)^  VERIFIED\\s+36  \\(at most \\d+ checks\\)$")
                .doesNotContain("STILL_PRESENT", "UNVERIFIABLE")
                .contains("the receipt's verification (App API): VERIFIED")
                .containsPattern("App API look-ups \\(0 over its limit\\) in brand-us")
                .containsPattern("look-ups \\(0 over its limit\\) in brand-eu");
        assertThat(r.out()).as("requests by status: on time is said of erasures only (a rejected request was not late)")
                .containsPattern("(?m)^  COMPLETED\\s+20  \\(on time: 20\\)$").containsPattern("(?m)^  REJECTED\\s+2$");
        assertThat(r.out()).contains("signed receipt of demo-0000", "receipt check (audit receipt --verify): signature valid",
                "checkpoints agree with the table");
    }
}
