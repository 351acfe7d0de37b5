package dev.cioerasure.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/** Removes secrets from text that is shown to people: URLs with credentials, mistaken secret paths. */
public final class Redact {
    private Redact() { }

    /** {@code user:password@} in the authority part. */
    private static final Pattern USER_INFO = Pattern.compile("(//[^/@?#;]*?:)[^/@?#;]*@");
    /** Any query or property whose name ends in "password" (password, sslpassword, …) or names a key. */
    private static final Pattern SECRET_PARAM = Pattern.compile("(?i)([?&;][^&;=#]*(?:password|secret|sslkey|token)[^&;=#]*=)[^&;#]*");

    /**
     * A JDBC URL with any password removed: {@code jdbc:postgresql://u:pw@h/db?password=pw} becomes
     * {@code jdbc:postgresql://u:***@h/db?password=***}.
     */
    public static String jdbcUrl(String url) {
        if (url == null) {
            return null;
        }
        return SECRET_PARAM.matcher(USER_INFO.matcher(url).replaceAll("$1***@")).replaceAll("$1***");
    }

    /**
     * The value of a {@code *_FILE} variable, for an error message, only when it plausibly is a path
     * (it contains a '/' and its parent directory exists). Otherwise it may be a secret pasted into
     * the wrong variable, and only its length is shown.
     */
    public static String filePath(String value) {
        try {
            Path p = Path.of(value);
            if (value.contains("/") && p.getParent() != null && Files.isDirectory(p.getParent())) {
                return "'" + value + "'";
            }
        } catch (RuntimeException e) {
            // not a path at all
        }
        return "(a value of " + value.length() + " characters, not shown: it does not look like a path, and may be a"
                + " secret set in the _FILE variable by mistake)";
    }
}
