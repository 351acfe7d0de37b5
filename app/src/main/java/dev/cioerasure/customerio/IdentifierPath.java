package dev.cioerasure.customerio;

import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.IdentifierType;
import java.nio.charset.StandardCharsets;

/**
 * Turns an identifier into the single path segment Customer.io expects. Every byte outside the
 * RFC 3986 unreserved set ({@code A-Z a-z 0-9 - . _ ~}) is percent-encoded from UTF-8, so
 * {@code @ + / % ? #}, spaces and unicode can never change which path is called. A segment made
 * only of dots is encoded entirely, so it cannot be read as {@code .} or {@code ..}.
 */
final class IdentifierPath {
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private IdentifierPath() { }

    static String segment(Identifier identifier) {
        String raw = identifier.type() == IdentifierType.CIO_ID ? "cio_" + identifier.value() : identifier.value();
        return encode(raw);
    }

    static String encode(String raw) {
        byte[] bytes = raw.getBytes(StandardCharsets.UTF_8);
        boolean dotsOnly = bytes.length > 0;
        for (byte b : bytes) {
            dotsOnly &= b == '.';
        }
        StringBuilder out = new StringBuilder(bytes.length * 3);
        for (byte b : bytes) {
            int c = b & 0xff;
            if (!dotsOnly && isUnreserved(c)) {
                out.append((char) c);
            } else {
                out.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
            }
        }
        return out.toString();
    }

    private static boolean isUnreserved(int c) {
        return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
                || c == '-' || c == '.' || c == '_' || c == '~';
    }
}
