package dev.cioerasure.evidence;

import dev.cioerasure.config.SmallFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Ed25519 key that signs erasure receipts: a PKCS#8 PEM file as {@code openssl genpkey
 * -algorithm ed25519} writes it ({@code AUDIT_SIGNING_KEY_FILE}). The public key is derived from
 * it, so only the private key needs to be kept; auditors get the public key from
 * {@code audit public-key}.
 */
public final class SigningKey {
    /** DER prefix of a PKCS#8 v1 Ed25519 private key; the 32-byte seed follows. */
    private static final byte[] PKCS8_ED25519_PREFIX = HexFormat.of().parseHex("302e020100300506032b657004220420");
    private static final Pattern PEM = Pattern.compile("-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");

    private final PrivateKey privateKey;
    private final PublicKey publicKey;

    private SigningKey(PrivateKey privateKey, PublicKey publicKey) {
        this.privateKey = privateKey;
        this.publicKey = publicKey;
    }

    /** A new random key (for {@code audit signing-key new} and tests). */
    public static SigningKey generate() throws GeneralSecurityException {
        KeyPair pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        return new SigningKey(pair.getPrivate(), pair.getPublic());
    }

    /**
     * Reads the key file.
     *
     * @throws IllegalArgumentException with a message naming the file's problem (never its content)
     */
    public static SigningKey read(Path file) throws IOException {
        byte[] der = pem(pemText(file), "PRIVATE KEY", file);
        if (der.length != PKCS8_ED25519_PREFIX.length + 32 || !Arrays.equals(Arrays.copyOf(der, PKCS8_ED25519_PREFIX.length),
                PKCS8_ED25519_PREFIX)) {
            throw new IllegalArgumentException(file + " is not an Ed25519 private key (make one with: openssl genpkey -algorithm ed25519)");
        }
        byte[] seed = Arrays.copyOfRange(der, PKCS8_ED25519_PREFIX.length, der.length);
        try {
            // The JDK has no call that derives an Ed25519 public key from a private one, but its
            // generator takes the private key's 32 bytes from the random source it is given: hand
            // it the seed and it returns that very key with its public key.
            KeyPairGenerator g = KeyPairGenerator.getInstance("Ed25519");
            g.initialize(NamedParameterSpec.ED25519, new SeedRandom(seed));
            KeyPair pair = g.generateKeyPair();
            PrivateKey fromFile = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
            SigningKey key = new SigningKey(fromFile, pair.getPublic());
            if (!key.verifies(new byte[] {1, 2, 3})) {
                throw new IllegalArgumentException(file + ": the public key derived from it does not verify its signatures");
            }
            return key;
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + " is not a usable Ed25519 private key (" + e.getClass().getSimpleName() + ")");
        }
    }

    /** Reads a public key (SPKI PEM, as {@code audit public-key} prints it). */
    public static PublicKey readPublic(Path file) throws IOException {
        byte[] der = pem(pemText(file), "PUBLIC KEY", file);
        try {
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(file + " is not an Ed25519 public key (" + e.getClass().getSimpleName() + ")");
        }
    }

    /** A key file's text; one too large to be a key is named so, never read whole. */
    private static String pemText(Path file) throws IOException {
        try {
            return SmallFiles.readString(file, SmallFiles.KEY_BYTES, StandardCharsets.US_ASCII);
        } catch (SmallFiles.TooLarge e) {
            throw new IllegalArgumentException(file + " is " + e.getMessage() + " (a key in PEM is a few hundred bytes)");
        }
    }

    private static byte[] pem(String text, String type, Path file) {
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            if (m.group(1).equals(type)) {
                return Base64.getMimeDecoder().decode(m.group(2));
            }
        }
        throw new IllegalArgumentException(file + " holds no PEM block \"" + type + "\"");
    }

    public byte[] sign(byte[] message) {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(privateKey);
            s.update(message);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    private boolean verifies(byte[] message) {
        return verify(publicKey, message, sign(message));
    }

    public static boolean verify(PublicKey key, byte[] message, byte[] signature) {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initVerify(key);
            s.update(message);
            return s.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    public String privateKeyPem() {
        return pemOf("PRIVATE KEY", privateKey.getEncoded());
    }

    public static String publicKeyPem(PublicKey key) {
        return pemOf("PUBLIC KEY", key.getEncoded());
    }

    /** SHA-256 of the public key's DER (SPKI) encoding, hex: names the key in a receipt. */
    public static String fingerprint(PublicKey key) {
        return Digests.sha256Hex(key.getEncoded());
    }

    private static String pemOf(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /** Gives out the seed once: the private key the generator then makes is the one from the file. */
    private static final class SeedRandom extends SecureRandom {
        private final byte[] seed;

        SeedRandom(byte[] seed) {
            this.seed = seed.clone();
        }

        @Override
        public void nextBytes(byte[] bytes) {
            if (bytes.length != seed.length) {
                throw new IllegalStateException("unexpected request for " + bytes.length + " random bytes");
            }
            System.arraycopy(seed, 0, bytes, 0, seed.length);
        }
    }
}
