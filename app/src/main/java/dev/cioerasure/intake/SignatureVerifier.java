package dev.cioerasure.intake;

import dev.cioerasure.config.Secret;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Customer.io's webhook signature scheme: {@code X-CIO-Signature} is the hex HMAC-SHA256, keyed
 * with the shared secret, of {@code "v0:" + X-CIO-Timestamp + ":" + raw body}. A request is
 * accepted when the timestamp is within ±5 minutes, the signature matches one of the configured
 * secrets (current, and previous during a rotation) — compared in constant time — and the same
 * signature was not accepted before (replay protection for as long as the timestamp is valid).
 * A signature counts as taken from its verification on (so two copies sent at once cannot both
 * pass) until the intake {@link #release releases} it because the request was not published. A
 * copy that comes while the first is still being published is {@link Verdict#IN_PROGRESS}, not a
 * replay: the first may still fail, and a sender told "already accepted" would not send it again.
 */
final class SignatureVerifier {
    static final Duration WINDOW = Duration.ofMinutes(5);
    static final int MAX_REMEMBERED = 200_000;

    enum Verdict { OK, MISSING, MALFORMED, STALE, BAD_SIGNATURE, REPLAYED, IN_PROGRESS }

    /** A signature taken: until when its timestamp is valid, and whether its request was published. */
    private static final class Taken {
        final long staleAfter;
        volatile boolean published;

        Taken(long staleAfter) {
            this.staleAfter = staleAfter;
        }
    }

    private final List<Secret> secrets;
    private final Clock clock;
    /** Signatures taken (being published, or published). */
    private final Map<String, Taken> seen = new ConcurrentHashMap<>();

    SignatureVerifier(List<Secret> secrets, Clock clock) {
        if (secrets.isEmpty()) {
            throw new IllegalArgumentException("at least one webhook secret");
        }
        this.secrets = List.copyOf(secrets);
        this.clock = clock;
    }

    Verdict verify(String timestamp, String signature, byte[] body) {
        if (timestamp == null || signature == null) {
            return Verdict.MISSING;
        }
        if (!timestamp.matches("\\d{1,12}") || !signature.matches("(?i)[0-9a-f]{64}")) {
            return Verdict.MALFORMED;
        }
        long ts = Long.parseLong(timestamp);
        long now = clock.instant().getEpochSecond();
        if (Math.abs(now - ts) > WINDOW.toSeconds()) {
            return Verdict.STALE;
        }
        byte[] given = HexFormat.of().parseHex(signature.toLowerCase(Locale.ROOT));
        boolean match = false;
        for (Secret s : secrets) {
            // every secret is checked, so timing does not reveal which one matched
            match |= MessageDigest.isEqual(sign(s.reveal(), timestamp, body), given);
        }
        if (!match) {
            return Verdict.BAD_SIGNATURE;
        }
        purge(now);
        Taken before = seen.putIfAbsent(signature.toLowerCase(Locale.ROOT), new Taken(ts + WINDOW.toSeconds()));
        if (before != null) {
            return before.published ? Verdict.REPLAYED : Verdict.IN_PROGRESS;
        }
        return Verdict.OK;
    }

    /** Marks a signature {@link #verify} accepted as published: a copy of its request is a replay from now on. */
    void published(String signature) {
        Taken t = seen.get(signature.toLowerCase(Locale.ROOT));
        if (t != null) {
            t.published = true;
        }
    }

    /**
     * Forgets a signature {@link #verify} accepted, for a request that was then not published
     * (Kafka did not acknowledge it, or its body broke the contract): the sender was told to
     * retry or to fix it, and a retry with the same signed request must not be called a replay.
     */
    void release(String signature) {
        seen.remove(signature.toLowerCase(Locale.ROOT));
    }

    static byte[] sign(String secret, String timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update(("v0:" + timestamp + ":").getBytes(StandardCharsets.UTF_8));
            return mac.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Hex signature, as a sender computes it (tests, clients). */
    static String signHex(String secret, String timestamp, byte[] body) {
        return HexFormat.of().formatHex(sign(secret, timestamp, body));
    }

    private void purge(long now) {
        if (seen.size() < MAX_REMEMBERED / 2) {
            return;
        }
        for (Iterator<Map.Entry<String, Taken>> it = seen.entrySet().iterator(); it.hasNext(); ) {
            if (it.next().getValue().staleAfter < now) {
                it.remove();
            }
        }
        // Still full of valid entries: drop arbitrary ones rather than grow without bound; the
        // worker's request-id de-duplication is the second line against a replay.
        Iterator<String> it = seen.keySet().iterator();
        while (seen.size() > MAX_REMEMBERED && it.hasNext()) {
            it.next();
            it.remove();
        }
    }
}
