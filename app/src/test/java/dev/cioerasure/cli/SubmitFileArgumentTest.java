package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.Cli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@code --file} that cannot be read is a bad argument (exit 2, README "Exit codes") named with
 * its cause, found before anything is sent: a directory once failed with exit 1 and
 * "/tmp: /tmp (Is a directory)", a missing file with a bare "cannot read".
 */
class SubmitFileArgumentTest {
    /** Complete settings; the broker's port is closed, so nothing could be sent even if the check let a file through. */
    private static final Map<String, String> ENV = Map.of("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1",
            "AUDIT_SUBJECT_KEY", "0123456789abcdef0123456789abcdef");

    @Test
    void aDirectoryAndAMissingFileAreBadArguments(@TempDir Path dir) throws Exception {
        Cli.Run directory = Cli.run(ENV, "submit", "--file", dir.toString(), "--dry-run");
        assertThat(directory.exit()).isEqualTo(2);
        assertThat(directory.err()).contains("--file " + dir + ": is a directory, not a file of requests");

        Path missing = dir.resolve("november.csv");
        Cli.Run none = Cli.run(ENV, "submit", "--file", missing.toString(), "--dry-run");
        assertThat(none.exit()).isEqualTo(2);
        assertThat(none.err()).contains("--file " + missing + ": no such file");

    }

    /**
     * The record of what was sent is written after Kafka acknowledged every request: an --out in a
     * directory that does not exist failed only then (exit 70, a NoSuchFileException), the
     * requests sent and their record lost. It is now a bad argument before anything is sent.
     */
    @Test
    void aRecordThatCouldNotBeWrittenIsABadArgumentBeforeAnythingIsSent(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("ok.csv"), "identifier_type,identifier,regulation,requested_by\nid,p-1,GDPR,desk/1\n");
        Path nowhere = dir.resolve("no-such-dir").resolve("record.csv");
        Cli.Run missingDir = Cli.run(ENV, "submit", "--file", file.toString(), "--out", nowhere.toString());
        assertThat(missingDir.exit()).isEqualTo(2);
        assertThat(missingDir.err()).contains("--out " + nowhere + ": its directory " + nowhere.getParent()
                + " does not exist; nothing was sent").doesNotContain("Exception");
        Cli.Run directory = Cli.run(ENV, "submit", "--file", file.toString(), "--out", dir.toString());
        assertThat(directory.exit()).isEqualTo(2);
        assertThat(directory.err()).contains("--out " + dir + ": is a directory, not a file; nothing was sent");
        assertThat(SubmitCommand.unwritableRecord(dir.resolve("ok.submitted.csv"))).isNull();
        // the record written over the file of requests replaced it (with ids added, readable by its owner only)
        Cli.Run itself = Cli.run(ENV, "submit", "--file", file.toString(), "--out", dir.resolve(".").resolve("ok.csv").toString());
        assertThat(itself.exit()).isEqualTo(2);
        assertThat(itself.err()).contains(": is the file of requests itself; name another file for the record of what was sent;"
                + " nothing was sent");
        assertThat(Files.readString(file)).startsWith("identifier_type,");
    }

    /**
     * submit reads its file three times (check, send, record): a pipe such as bash's
     * {@code <(cat f.csv)} was read whole by the check and then empty, and submit said "the file is
     * empty"; a device such as /dev/zero was read without end. Both are bad arguments now.
     */
    @Test
    void aPipeOrADeviceIsABadArgument(@TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(Path.of("/dev/zero")), "a device file to name");
        Cli.Run device = Cli.run(ENV, "submit", "--file", "/dev/zero", "--dry-run");
        assertThat(device.exit()).isEqualTo(2);
        assertThat(device.err()).contains("--file /dev/zero: not a regular file (a pipe or a device): submit reads the file once"
                + " to check it, once to send it and once to record it; save it to a file first");
        Path fifo = dir.resolve("requests.csv");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mkfifo.waitFor() == 0, "mkfifo makes a pipe here");
        Cli.Run pipe = Cli.run(ENV, "submit", "--file", fifo.toString());
        assertThat(pipe.exit()).isEqualTo(2);
        assertThat(pipe.err()).contains("--file " + fifo + ": not a regular file");
    }

    @Test
    void aReadableFileIsUsable(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("ok.csv"), "identifier_type,identifier,regulation,requested_by\n");
        assertThat(Errors.unusableFile(file, "a file of requests")).isNull();
    }
}
