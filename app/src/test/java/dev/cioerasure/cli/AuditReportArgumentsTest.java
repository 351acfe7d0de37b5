package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report's days are checked before anything else: no database, no key, no directory is
 * touched for a bad one. A year past 9999 ("+300000-12-31", which java.time reads) reached
 * PostgreSQL and ended with exit 70 and its "timestamp out of range"; one past 999,999,999
 * with java.time's own exception.
 */
class AuditReportArgumentsTest {
    @TempDir
    Path dir;

    @Test
    void daysOutsideFourDigitYearsOrTheCalendarAreBadArgumentsAndNothingIsCreated() {
        Path receipts = dir.resolve("receipts");
        for (String[] days : new String[][] {
                {"2026-01-01", "+300000-12-31"}, {"-999999999-01-01", "2026-01-01"}, {"2026-01-01", "+1000000000-01-01"},
                {"2026-02-30", "2026-03-01"}, {"2026-1-01", "2026-03-01"}, {"yesterday", "2026-03-01"}, {"２０２６-01-01", "2026-03-01"}}) {
            Cli.Run run = Cli.run(Map.of(), "audit", "report", "--from", days[0], "--to", days[1], "--receipts", receipts.toString());
            String option = days[0].equals("2026-01-01") ? "--to" : "--from";
            assertThat(run.exit()).as(String.join(" ", days)).isEqualTo(2);
            assertThat(run.err()).as(String.join(" ", days))
                    .isEqualTo("cio-erasure: " + option + " must be a day written YYYY-MM-DD, like 2026-11-01" + System.lineSeparator());
        }
        assertThat(Files.exists(receipts)).isFalse();
    }

    @Test
    void theFirstAndLastYearsWrittenWithFourDigitsAreDays() {
        assertThat(AuditCommand.Report.day("--from", "0001-01-01")).hasToString("0001-01-01");
        assertThat(AuditCommand.Report.day("--to", "9999-12-31")).hasToString("9999-12-31");
        Cli.Run reversed = Cli.run(Map.of(), "audit", "report", "--from", "2026-11-30", "--to", "2026-11-01");
        assertThat(reversed.exit()).isEqualTo(2);
        assertThat(reversed.err()).contains("--to must not be before --from");
    }
}
