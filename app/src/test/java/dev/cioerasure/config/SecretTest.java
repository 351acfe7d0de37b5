package dev.cioerasure.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretTest {
    @Test
    void toStringNeverShowsTheValue() {
        assertThat(Secret.of("X", "s3cr3t")).hasToString("[hidden]");
    }

    @Test
    void aChangedFileIsPickedUpAndTrailingNewlinesAreStripped(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("s");
        Files.writeString(f, "first\r\n");
        Secret s = Secret.fromFile("X_FILE", f);
        assertThat(s.reveal()).isEqualTo("first");
        Files.writeString(f, "second\n");
        Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis() + 10_000));
        assertThat(s.reveal()).isEqualTo("second");
    }

    @Test
    void aFileBrieflyMissingDuringASwapKeepsTheLastValue(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("s");
        Files.writeString(f, "kept");
        Secret s = Secret.fromFile("X_FILE", f);
        Files.delete(f);
        assertThat(s.reveal()).isEqualTo("kept");
    }

    /** A rotated key file replaced by a large one (the wrong file) keeps the last value rather than reading it whole. */
    @Test
    void aFileReplacedByOneLargerThanAnySecretKeepsTheLastValue(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("s");
        Files.writeString(f, "kept");
        Secret s = Secret.fromFile("X_FILE", f);
        Files.write(f, new byte[SmallFiles.KEY_BYTES + 1]);
        assertThat(s.reveal()).isEqualTo("kept");
        assertThatThrownBy(() -> Secret.fromFile("X_FILE", f)).hasMessage("cannot read secret file for X_FILE: larger than 65,536 bytes,"
                + " which no such file is");
    }

    @Test
    void aFileFoundEmptyWhileItIsRewrittenKeepsTheLastValueUntilItHoldsOne(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("s");
        Files.writeString(f, "kept");
        Secret s = Secret.fromFile("X_FILE", f);
        Files.writeString(f, "\n");
        Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis() + 10_000));
        assertThat(s.refreshIfChanged()).isFalse();
        assertThat(s.reveal()).isEqualTo("kept");
        Files.writeString(f, "rotated\n");
        Files.setLastModifiedTime(f, FileTime.fromMillis(System.currentTimeMillis() + 20_000));
        assertThat(s.reveal()).isEqualTo("rotated");
    }
}
