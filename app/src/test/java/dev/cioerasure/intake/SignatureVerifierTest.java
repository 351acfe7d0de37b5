package dev.cioerasure.intake;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Secret;
import dev.cioerasure.intake.SignatureVerifier.Verdict;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

class SignatureVerifierTest {
    private final Instant now = Instant.parse("2026-11-29T10:00:00Z");
    private final SignatureVerifier verifier = new SignatureVerifier(
            List.of(Secret.of("S", "current-secret"), Secret.of("S2", "previous-secret")), Clock.fixed(now, ZoneOffset.UTC));
    private final byte[] body = "{\"cio_id\":\"abc\"}".getBytes(StandardCharsets.UTF_8);

    private String ts(long offsetSeconds) {
        return Long.toString(now.getEpochSecond() + offsetSeconds);
    }

    @Test
    void acceptsCustomerIosSchemeWithEitherSecret() {
        String t = ts(0);
        assertThat(verifier.verify(t, SignatureVerifier.signHex("current-secret", t, body), body)).isEqualTo(Verdict.OK);
        String t2 = ts(1);
        assertThat(verifier.verify(t2, SignatureVerifier.signHex("previous-secret", t2, body).toUpperCase(), body)).isEqualTo(Verdict.OK);
    }

    @Test
    void theSignatureCoversVersionTimestampAndBody() {
        // the documented construction, computed independently
        String t = ts(0);
        String expected = hmacHex("current-secret", "v0:" + t + ":" + new String(body, StandardCharsets.UTF_8));
        assertThat(SignatureVerifier.signHex("current-secret", t, body)).isEqualTo(expected);
    }

    @Test
    void aReleasedSignatureIsNoReplayButAnotherCopyOfAnAcceptedOneIs() {
        String t = ts(0);
        String sig = SignatureVerifier.signHex("current-secret", t, body);
        assertThat(verifier.verify(t, sig, body)).isEqualTo(Verdict.OK);
        // not "already accepted": the first may still fail, and its sender would not send it again
        assertThat(verifier.verify(t, sig, body)).as("a second copy while the first is being published").isEqualTo(Verdict.IN_PROGRESS);
        verifier.release(sig.toUpperCase(java.util.Locale.ROOT)); // the first was not published: its sender retries
        assertThat(verifier.verify(t, sig, body)).isEqualTo(Verdict.OK);
        verifier.published(sig);
        assertThat(verifier.verify(t, sig, body)).isEqualTo(Verdict.REPLAYED);
    }

    @Test
    void refusesForgedTamperedStaleReplayedAndMalformed() {
        String t = ts(0);
        String sig = SignatureVerifier.signHex("current-secret", t, body);
        assertThat(verifier.verify(t, SignatureVerifier.signHex("wrong-secret", t, body), body)).isEqualTo(Verdict.BAD_SIGNATURE);
        assertThat(verifier.verify(t, sig, "{\"cio_id\":\"abd\"}".getBytes(StandardCharsets.UTF_8))).isEqualTo(Verdict.BAD_SIGNATURE);
        assertThat(verifier.verify(ts(1), sig, body)).as("timestamp is signed").isEqualTo(Verdict.BAD_SIGNATURE);
        String old = ts(-301);
        assertThat(verifier.verify(old, SignatureVerifier.signHex("current-secret", old, body), body)).isEqualTo(Verdict.STALE);
        String future = ts(301);
        assertThat(verifier.verify(future, SignatureVerifier.signHex("current-secret", future, body), body)).isEqualTo(Verdict.STALE);
        assertThat(verifier.verify(t, sig, body)).isEqualTo(Verdict.OK);
        verifier.published(sig);
        assertThat(verifier.verify(t, sig, body)).isEqualTo(Verdict.REPLAYED);
        assertThat(verifier.verify(null, sig, body)).isEqualTo(Verdict.MISSING);
        assertThat(verifier.verify(t, null, body)).isEqualTo(Verdict.MISSING);
        assertThat(verifier.verify("12a", sig, body)).isEqualTo(Verdict.MALFORMED);
        assertThat(verifier.verify(t, "zz" + sig.substring(2), body)).isEqualTo(Verdict.MALFORMED);
        assertThat(verifier.verify(t, sig.substring(1), body)).isEqualTo(Verdict.MALFORMED);
    }

    private static String hmacHex(String key, String msg) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return java.util.HexFormat.of().formatHex(mac.doFinal(msg.getBytes(StandardCharsets.UTF_8)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
