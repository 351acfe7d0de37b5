package dev.cioerasure.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Secret;
import dev.cioerasure.request.Identifier;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class SubjectHasherTest {
    private final SubjectHasher hasher = new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "k-0123456789abcdef"));

    /** The key is read once: a key file rewritten while the worker runs does not switch the hashes it writes. */
    @Test
    void aKeyFileChangedWhileRunningDoesNotChangeTheHashes(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("audit_subject_key"), "first-key-0123456789abcdef\n");
        SubjectHasher hasher = new SubjectHasher(Secret.fromFile("AUDIT_SUBJECT_KEY_FILE", file));
        String before = hasher.hash(Identifier.email("jane@example.com"));
        String fingerprint = hasher.fingerprint();
        java.nio.file.Files.writeString(file, "second-key-0123456789abcdef-longer\n");
        java.nio.file.Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5_000));
        assertThat(hasher.hash(Identifier.email("jane@example.com"))).isEqualTo(before);
        assertThat(hasher.fingerprint()).isEqualTo(fingerprint);
        assertThat(new SubjectHasher(Secret.fromFile("AUDIT_SUBJECT_KEY_FILE", file)).hash(Identifier.email("jane@example.com")))
                .as("a new start reads the new key").isNotEqualTo(before);
    }

    @Test
    void isHmacSha256OfTypeAndNormalisedValue() throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec("k-0123456789abcdef".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        String expected = HexFormat.of().formatHex(mac.doFinal("email:jane@example.com".getBytes(StandardCharsets.UTF_8)));
        assertThat(hasher.hash(Identifier.email(" Jane@Example.COM "))).isEqualTo(expected);
    }

    @Test
    void typeIsPartOfTheSubject() {
        assertThat(hasher.hash(Identifier.id("42"))).isNotEqualTo(hasher.hash(Identifier.cioId("42")));
    }

    @Test
    void idsAreCaseSensitive() {
        assertThat(hasher.hash(Identifier.id("Abc"))).isNotEqualTo(hasher.hash(Identifier.id("abc")));
    }

    @Test
    void anotherKeyGivesAnotherHash() {
        SubjectHasher other = new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "another-key-0123456"));
        assertThat(other.hash(Identifier.email("a@b.co"))).isNotEqualTo(hasher.hash(Identifier.email("a@b.co")));
        assertThat(hasher.hash(Identifier.email("a@b.co"))).matches("[0-9a-f]{64}");
    }
}
