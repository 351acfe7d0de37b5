package dev.cioerasure.config;

import static org.assertj.core.api.Assertions.assertThat;

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
}
