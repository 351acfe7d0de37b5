package dev.cioerasure.intake;

/** Signs an intake request as a caller does (X-CIO-Signature), for tests outside this package. */
public final class Signatures {
    private Signatures() { }

    public static String signHex(String secret, String timestamp, byte[] body) {
        return SignatureVerifier.signHex(secret, timestamp, body);
    }
}
