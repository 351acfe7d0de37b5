package dev.cioerasure.text;

/**
 * What text from outside (an identifier, {@code requested_by}, a configured customer id) must not
 * hold: characters a person cannot see or that change how text around them reads. One rule for
 * every place that refuses them, so none lets through what another refuses.
 */
public final class VisibleText {
    private VisibleText() { }

    /**
     * A space of any kind: ASCII's and the other white space Java knows, and the Unicode space
     * separators it does not count as white space (a no-break space, U+00A0). What an id may not
     * start or end with, and what {@code requested_by} or a closing may not be made of only.
     */
    public static boolean isSpace(int codePoint) {
        return Character.isWhitespace(codePoint) || Character.isSpaceChar(codePoint);
    }

    /**
     * Control (Cc), format (Cf: zero-width characters, bidirectional overrides, and beyond the
     * first plane the invisible tag characters U+E0000–U+E007F), line and paragraph separators,
     * the noncharacters U+FFF0–U+FFFF that are unassigned, and a lone surrogate.
     */
    public static boolean hasControlOrInvisible(String s) {
        return firstHidden(s) >= 0;
    }

    /** The index (UTF-16) of the first such character in {@code s}, or -1 when it has none. */
    private static int firstHidden(String s) {
        for (int i = 0; i < s.length(); ) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1)))
                    || Character.isLowSurrogate(c)) {
                return i;
            }
            int cp = s.codePointAt(i);
            int t = Character.getType(cp);
            if (t == Character.CONTROL || t == Character.FORMAT || t == Character.LINE_SEPARATOR
                    || t == Character.PARAGRAPH_SEPARATOR || t == Character.UNASSIGNED && cp >= 0xfff0 && cp <= 0xffff) {
                return i;
            }
            i += Character.charCount(cp);
        }
        return -1;
    }

    /**
     * The first such character, named without showing it ({@code U+200B, character 5}), or null
     * when {@code s} has none: for a person who cannot see it in what they pasted.
     */
    public static String describeFirstHidden(String s) {
        int i = firstHidden(s);
        return i < 0 ? null : String.format(java.util.Locale.ROOT, "U+%04X, character %d", s.codePointAt(i),
                s.codePointCount(0, i) + 1);
    }
}
