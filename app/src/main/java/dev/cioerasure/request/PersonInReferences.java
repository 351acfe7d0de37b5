package dev.cioerasure.request;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Whether a request's references, its {@code request_id} and {@code requested_by}, name the
 * person to be erased. Both are logged and stored in the audit table as written, so a request
 * id built from the person's identifier ({@code erase-8812}, an email address) would put the
 * identifier where the keyed hash is meant to stand for it.
 *
 * <p>A reference names the person when it holds the identifier's value, compared without regard
 * to case, as a whole: not inside a longer run of letters and digits ({@code 8812} is named by
 * {@code erase-8812} and {@code 8812/ticket}, not by {@code PRIV-188120}). Values shorter than
 * {@link #MIN_VALUE} characters are not looked for: they occur in ticket numbers by chance. The
 * references cio-erasure makes itself (request ids of {@code submit} and of the webhook intake,
 * the webhook's {@code requested_by}) hold no identifier by construction and are not looked into.
 */
final class PersonInReferences {
    static final int MIN_VALUE = 4;
    /** {@code submit}'s and the webhook intake's request ids: a regulation, a day and 32 hex digits of a keyed hash. */
    private static final Pattern MADE_BY_CIO_ERASURE =
            Pattern.compile("(sub-(gdpr|ccpa)|cio-webhook-(gdpr|ccpa)-\\d{4}-\\d{2}-\\d{2})-[0-9a-f]{32}");

    private PersonInReferences() {
    }

    static boolean requestIdNames(String requestId, String value) {
        return !MADE_BY_CIO_ERASURE.matcher(requestId).matches() && names(requestId, value);
    }

    static boolean requestedByNames(String requestedBy, String value) {
        return !RequestParser.WEBHOOK_REQUESTED_BY.equals(requestedBy) && names(requestedBy, value);
    }

    static boolean names(String text, String value) {
        String v = value.strip().toLowerCase(Locale.ROOT);
        if (v.length() < MIN_VALUE) {
            return false;
        }
        String t = text.toLowerCase(Locale.ROOT);
        for (int at = t.indexOf(v); at >= 0; at = t.indexOf(v, at + 1)) {
            int end = at + v.length();
            if ((at == 0 || !Character.isLetterOrDigit(t.charAt(at - 1))) && (end == t.length() || !Character.isLetterOrDigit(t.charAt(end)))) {
                return true;
            }
        }
        return false;
    }
}
