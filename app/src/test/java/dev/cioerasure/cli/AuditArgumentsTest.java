package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit commands' arguments are checked before anything else: no database, no key, no
 * directory is touched for a bad one (the empty environment here would otherwise be exit 78).
 */
class AuditArgumentsTest {
    @TempDir
    Path dir;

    /**
     * A year past 9999 ("+300000-12-31", which java.time reads) reached PostgreSQL and ended with
     * exit 70 and its "timestamp out of range"; one past 999,999,999 with java.time's own exception.
     */
    @Test
    void daysOutsideFourDigitYearsOrTheCalendarAreBadArgumentsAndNothingIsCreated() {
        Path receipts = dir.resolve("receipts");
        for (String[] days : new String[][] {
                {"2026-01-01", "+300000-12-31"}, {"-999999999-01-01", "2026-01-01"}, {"2026-01-01", "+1000000000-01-01"},
                {"2026-02-30", "2026-03-01"}, {"2026-1-01", "2026-03-01"}, {"yesterday", "2026-03-01"}, {"２０２６-01-01", "2026-03-01"},
                {"2026-01-01", "2026-13-01"}}) {
            Cli.Run run = Cli.run(Map.of(), "audit", "report", "--from", days[0], "--to", days[1], "--receipts", receipts.toString());
            String option = days[0].equals("2026-01-01") ? "--to" : "--from";
            String day = option.equals("--to") ? days[1] : days[0];
            assertThat(run.exit()).as(String.join(" ", days)).isEqualTo(2);
            assertThat(run.err()).as(String.join(" ", days)).isEqualTo("cio-erasure: " + option
                    + (day.matches("[0-9]{4}-[0-9]{2}-[0-9]{2}") ? " " + day + " is not a day of the calendar"
                            : " must be a day written YYYY-MM-DD, like 2026-11-01") + System.lineSeparator());
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

    /**
     * Found only when writing, after the receipt was made or the report printed: exit 70 with
     * "failed: java.nio.file.NoSuchFileException" or "FileSystemException: … Is a directory".
     */
    @Test
    void aPlaceWhereNothingCanBeWrittenIsABadArgumentBeforeTheDatabaseOrTheKey() throws Exception {
        Path nowhere = dir.resolve("no-such-dir").resolve("r.json");
        Cli.Run missing = Cli.run(Map.of(), "audit", "receipt", "R-1", "--out", nowhere.toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).isEqualTo("cio-erasure: --out " + nowhere + ": its directory " + nowhere.getParent()
                + " does not exist; no receipt was issued" + System.lineSeparator());
        Cli.Run directory = Cli.run(Map.of(), "audit", "receipt", "R-1", "--out", dir.toString());
        assertThat(directory.exit()).isEqualTo(2);
        assertThat(directory.err()).contains("--out " + dir + ": is a directory, not a file; no receipt was issued");

        Path file = Files.writeString(dir.resolve("a-file"), "kept");
        Cli.Run notADirectory = Cli.run(Map.of(), "audit", "report", "--from", "2026-11-01", "--to", "2026-11-30",
                "--receipts", file.toString());
        assertThat(notADirectory.exit()).isEqualTo(2);
        assertThat(notADirectory.err()).contains("--receipts " + file + ": is a file, not a directory; nothing was written");
        assertThat(Files.readString(file)).isEqualTo("kept");
        // a place that can be written gets as far as the missing settings
        assertThat(Cli.run(Map.of(), "audit", "receipt", "R-1", "--out", dir.resolve("r.json").toString()).exit()).isEqualTo(78);
    }

    /** A directory given as the public key was read, and ended with exit 70 and "java.io.IOException: Is a directory". */
    @Test
    void aPublicKeyThatIsADirectoryOrMissingIsABadArgument() throws Exception {
        Path receipt = Files.writeString(dir.resolve("r.receipt.json"), "{}");
        Cli.Run directory = Cli.run(Map.of(), "audit", "receipt", "--verify", receipt.toString(), "--public-key", dir.toString());
        assertThat(directory.exit()).isEqualTo(2);
        assertThat(directory.err()).isEqualTo("cio-erasure: --public-key " + dir + ": is a directory, not a public key (PEM)"
                + System.lineSeparator());
        Cli.Run checkpoints = Cli.run(Map.of(), "audit", "verify", "--checkpoint-dir", dir.toString(), "--public-key", dir.toString());
        assertThat(checkpoints.exit()).isEqualTo(2);
        assertThat(checkpoints.err()).contains("--public-key " + dir + ": is a directory, not a public key (PEM)");
        Path missing = dir.resolve("nope.pem");
        Cli.Run none = Cli.run(Map.of(), "audit", "receipt", "--verify", receipt.toString(), "--public-key", missing.toString());
        assertThat(none.exit()).isEqualTo(2);
        assertThat(none.err()).contains("--public-key " + missing + ": no such file");
    }
}
