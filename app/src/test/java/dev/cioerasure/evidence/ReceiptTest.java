package dev.cioerasure.evidence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.audit.AuditQueries;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Signed receipts: issued from audit rows, checked offline, by this program and by openssl. */
class ReceiptTest {
    private static final Instant T = Instant.parse("2026-11-02T09:00:00Z");

    @TempDir
    Path dir;

    static List<AuditQueries.Row> rows() {
        return List.of(
                new AuditQueries.Row(7, T.plusSeconds(60), T.plusSeconds(60), "r-jane", "ab".repeat(32), "email", "SUPPRESS", "SUCCEEDED",
                        200, 1, null, "GDPR", T, T.plusSeconds(30 * 86400), "desk/1", "erasure.requests-0@5", "w-1", null),
                new AuditQueries.Row(8, T.plusSeconds(61), T.plusSeconds(61), "r-jane", "ab".repeat(32), "email", "DESTROY", "SUCCEEDED",
                        200, 2, null, "GDPR", T, T.plusSeconds(30 * 86400), "desk/1", "erasure.requests-0@5", "w-1", null),
                new AuditQueries.Row(9, T.plusSeconds(61), T.plusSeconds(61), "r-jane", "ab".repeat(32), "email", "OUTCOME", "COMPLETED",
                        null, null, null, "GDPR", T, T.plusSeconds(30 * 86400), "desk/1", "erasure.requests-0@5", "w-1", null),
                new AuditQueries.Row(10, T.plusSeconds(300), T.plusSeconds(300), "r-jane", "ab".repeat(32), "email", "VERIFY", "VERIFIED",
                        404, 2, "App API: no such person (404) at check 2", "GDPR", T, T.plusSeconds(30 * 86400), "desk/1",
                        "erasure.requests.verify-0@3", "w-1", null));
    }

    static Map<Long, String> hashes() {
        return Map.of(7L, "1".repeat(64), 8L, "2".repeat(64), 9L, "3".repeat(64), 10L, "4".repeat(64));
    }

    @Test
    void aReceiptSaysWhatTheRowsSayAndVerifiesAsIssued() throws Exception {
        SigningKey key = SigningKey.generate();
        byte[] receipt = Receipt.issue("r-jane", rows(), hashes(), key, T.plusSeconds(3600));
        String text = new String(receipt, StandardCharsets.UTF_8);
        assertThat(text).endsWith("}\n").doesNotContain("\n{").contains("\"request_id\":\"r-jane\"", "\"status\":\"COMPLETED\"",
                "\"erased\":true", "\"on_time\":true", "\"erased_at\":\"2026-11-02T09:01:01Z\"", "\"chain_seq\":8", "\"row_hash\":\"" + "2".repeat(64),
                "\"attempts\":2", "\"verification\":\"VERIFIED\"", "\"verified_at\":\"2026-11-02T09:05:00Z\"", "\"deadline_at\":\"2026-12-02T09:00:00Z\"");
        assertThat(text).as("no requester, Kafka coordinates or worker: only what proves the erasure").doesNotContain("desk/1", "w-1");
        assertThat(Receipt.verify(receipt, key.publicKey())).isEqualTo(Receipt.Verdict.VALID);
        assertThat(Receipt.verify(receipt, SigningKey.generate().publicKey())).isEqualTo(Receipt.Verdict.OTHER_KEY);
        String pending = new String(Receipt.issue("r-jane", rows().subList(0, 3), hashes(), key, T), StandardCharsets.UTF_8);
        assertThat(pending).as("completed, checks still going on").contains("\"verification\":\"PENDING\"", "\"verified_at\":null");
    }

    /**
     * A FAILED request whose id another identifier's record then reused: the receipt said the
     * reuse's REJECTED was the request's status, and listed that row among the person's own.
     */
    @Test
    void anotherIdentifiersRecordUnderTheIdIsNotInThePersonsReceipt() throws Exception {
        List<AuditQueries.Row> rows = List.of(
                new AuditQueries.Row(7, T.plusSeconds(60), T.plusSeconds(60), "r-jane", "ab".repeat(32), "email", "OUTCOME", "FAILED",
                        400, 1, "suppress: http 400", "GDPR", T, T.plusSeconds(30 * 86400), "desk/1", "erasure.requests-0@5", "w-1", null),
                new AuditQueries.Row(8, T.plusSeconds(90), T.plusSeconds(90), "r-jane", "cd".repeat(32), "email", "OUTCOME", "REJECTED",
                        null, null, "REQUEST_ID_REUSED: the request id already has outcome FAILED for another identifier; this one was"
                        + " not erased: submit it under a request id of its own", "GDPR", T, T.plusSeconds(30 * 86400), "desk/1",
                        "erasure.requests-0@6", "w-1", null));
        String text = new String(Receipt.issue("r-jane", rows, hashes(), SigningKey.generate(), T.plusSeconds(3600)),
                StandardCharsets.UTF_8);
        assertThat(text).contains("\"status\":\"FAILED\"", "\"erased\":false", "\"subject_hash\":\"" + "ab".repeat(32))
                .doesNotContain("cd".repeat(32), "REQUEST_ID_REUSED", "\"chain_seq\":8");
    }

    /**
     * Two records of one id for two persons run at once: the other's suppress failed first, then
     * this person's erasure completed. The receipt named the other person (the first row) as the
     * subject of a request it said was erased, and listed that person's rows.
     */
    @Test
    void anotherIdentifiersRecordThatRanBesideTheErasureIsNotInTheReceipt() throws Exception {
        List<AuditQueries.Row> rows = new java.util.ArrayList<>();
        rows.add(new AuditQueries.Row(6, T.plusSeconds(30), T.plusSeconds(30), "r-jane", "cd".repeat(32), "id", "SUPPRESS", "FAILED",
                400, 1, null, "CCPA", T, T.plusSeconds(45 * 86400), "desk/1", "erasure.requests-1@9", "w-2", null));
        rows.addAll(rows().subList(0, 3));
        rows.add(new AuditQueries.Row(11, T.plusSeconds(62), T.plusSeconds(62), "r-jane", "cd".repeat(32), "id", "OUTCOME", "DUPLICATE",
                null, null, "request was already completed; this outcome (FAILED) recorded as duplicate", "CCPA", T,
                T.plusSeconds(45 * 86400), "desk/1", "erasure.requests-1@9", "w-2", null));
        String text = new String(Receipt.issue("r-jane", rows, hashes(), SigningKey.generate(), T.plusSeconds(3600)),
                StandardCharsets.UTF_8);
        assertThat(text).contains("\"status\":\"COMPLETED\"", "\"subject_hash\":\"" + "ab".repeat(32), "\"identifier_type\":\"email\"",
                "\"regulation\":\"GDPR\"").doesNotContain("cd".repeat(32), "\"chain_seq\":6", "\"chain_seq\":11", "CCPA");
    }

    @Test
    void everyOneByteChangeFails() throws Exception {
        SigningKey key = SigningKey.generate();
        byte[] receipt = Receipt.issue("r-jane", rows(), hashes(), key, T.plusSeconds(3600));
        for (int i = 0; i < receipt.length; i++) {
            for (int flip : new int[] {0x01, 0x20}) {
                byte[] changed = receipt.clone();
                changed[i] ^= (byte) flip;
                assertThat(Receipt.verify(changed, key.publicKey())).as("byte %d ^ %d", i, flip).isNotEqualTo(Receipt.Verdict.VALID);
            }
        }
        byte[] longer = java.util.Arrays.copyOf(receipt, receipt.length + 1);
        longer[receipt.length] = ' ';
        assertThat(Receipt.verify(longer, key.publicKey())).isEqualTo(Receipt.Verdict.NOT_AS_ISSUED);
        assertThat(Receipt.verify("not json".getBytes(StandardCharsets.UTF_8), key.publicKey())).isEqualTo(Receipt.Verdict.NOT_A_RECEIPT);
    }

    @Test
    void anOpensslKeyIsReadItsPublicKeyDerivedAndTheDocumentedOpensslCheckAgrees() throws Exception {
        Path pem = dir.resolve("audit-signing.pem");
        sh("openssl genpkey -algorithm ed25519 -out " + pem);
        SigningKey key = SigningKey.read(pem);
        String opensslPublic = sh("openssl pkey -in " + pem + " -pubout");
        assertThat(SigningKey.publicKeyPem(key.publicKey())).isEqualTo(opensslPublic);
        Path pub = dir.resolve("audit-signing.pub.pem");
        Files.writeString(pub, opensslPublic);

        Path receipt = dir.resolve("r-jane.receipt.json");
        Files.write(receipt, Receipt.issue("r-jane", rows(), hashes(), key, T.plusSeconds(3600)));
        // docs/auditing.md, "Signed receipts": the check without this program
        String check = "cd " + dir + " && jq -cjS 'del(.signature)' r-jane.receipt.json > r-jane.signed"
                + " && jq -r .signature r-jane.receipt.json | base64 -d > r-jane.sig"
                + " && openssl pkeyutl -verify -pubin -inkey audit-signing.pub.pem -rawin -in r-jane.signed -sigfile r-jane.sig";
        assertThat(sh(check)).contains("Signature Verified Successfully");
        Files.writeString(receipt, Files.readString(receipt).replace("\"on_time\":true", "\"on_time\":false"));
        assertThatThrownBy(() -> sh(check)).hasMessageContaining("Signature Verification Failure");
        assertThat(Receipt.verify(Files.readAllBytes(receipt), key.publicKey())).isEqualTo(Receipt.Verdict.BAD_SIGNATURE);
    }

    @Test
    void aFileThatIsNoEd25519KeyIsRefusedWithoutShowingIt() throws Exception {
        Path rsa = dir.resolve("rsa.pem");
        sh("openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 -out " + rsa);
        assertThatThrownBy(() -> SigningKey.read(rsa)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not an Ed25519 private key").hasMessageNotContaining("MII");
        Path none = dir.resolve("none.pem");
        Files.writeString(none, "hello");
        assertThatThrownBy(() -> SigningKey.read(none)).hasMessageContaining("holds no PEM block \"PRIVATE KEY\"");
        // the wrong file named as a key (a log, /dev/zero) ran the command out of memory; it is now named, unread
        Path large = Files.write(dir.resolve("large.pem"), new byte[64 * 1024 + 1]);
        assertThatThrownBy(() -> SigningKey.read(large)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(large + " is larger than 65,536 bytes, which no such file is (a key in PEM is a few hundred bytes)");
        assertThatThrownBy(() -> SigningKey.readPublic(large)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(large + " is larger than 65,536 bytes");
    }

    private static String sh(String command) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("exit " + p.exitValue() + ": " + out);
        }
        return out;
    }
}
