package dev.cioerasure.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * A secret value that never shows itself: {@link #toString()} is {@code [hidden]} (like Kafka's
 * {@code Password}), so a secret that ends up in a log line, an exception or a config dump leaks
 * nothing.
 *
 * <p>A secret given as {@code <NAME>_FILE} (a mounted Docker/Kubernetes/Vault secret) is re-read
 * when the file's modification time or size changes, so a rotated secret is picked up without a
 * restart. Trailing newlines are stripped, as secret files are usually written with one.
 */
public final class Secret {
    private final String source;
    private final Path file;
    private volatile String value;
    private volatile FileTime lastModified;
    private volatile long lastSize = -1;
    private final Secret base;
    private final UnaryOperator<String> derivation;

    private Secret(String source, String value, Path file) {
        this.source = source;
        this.value = value;
        this.file = file;
        this.base = null;
        this.derivation = null;
    }

    private Secret(Secret base, UnaryOperator<String> derivation) {
        this.source = base.source;
        this.file = null;
        this.base = base;
        this.derivation = derivation;
    }

    /**
     * A secret computed from this one, e.g. a Kafka JAAS line that holds a password: it follows
     * this secret when its file is rotated, and shows the same origin.
     */
    public Secret derive(UnaryOperator<String> derivation) {
        return new Secret(this, derivation);
    }

    /** Whether the value comes from a file (which may be rewritten: a rotation), directly or through {@link #derive}. */
    public boolean fromFile() {
        return base != null ? base.fromFile() : file != null;
    }

    /** A fixed secret, e.g. from an environment variable. */
    public static Secret of(String source, String value) {
        Objects.requireNonNull(value, "value");
        return new Secret(source, value, null);
    }

    /** A secret read from a file now, and re-read whenever the file changes. */
    public static Secret fromFile(String source, Path file) {
        Secret s = new Secret(source, null, file);
        s.refreshIfChanged();
        return s;
    }

    /** The current value. For a file secret, re-reads the file if it changed since the last read. */
    public String reveal() {
        if (base != null) {
            return derivation.apply(base.reveal());
        }
        if (file != null) {
            refreshIfChanged();
        }
        return value;
    }

    /** Where the value comes from, e.g. {@code CUSTOMERIO_TRACK_API_KEY_FILE=/run/secrets/key}; never the value. */
    public String source() {
        return source;
    }

    /** Where the value comes from, for the start-up log: {@code env NAME} or {@code file /run/secrets/x}. */
    public String origin() {
        if (base != null) {
            return base.origin();
        }
        return file != null ? "file " + file : "env " + source;
    }

    /**
     * Re-reads a file-backed secret if its modification time or size changed.
     *
     * @return true when a new value was loaded
     */
    public synchronized boolean refreshIfChanged() {
        if (file == null) {
            return false;
        }
        try {
            FileTime modified = Files.getLastModifiedTime(file);
            long size = Files.size(file);
            if (value != null && lastModified != null && modified.equals(lastModified) && size == lastSize) {
                return false;
            }
            String read = stripTrailingNewlines(SmallFiles.readString(file, SmallFiles.KEY_BYTES, StandardCharsets.UTF_8));
            if (value != null && read.isBlank()) {
                // A file being rewritten in place is empty for a moment: taken, an empty webhook
                // secret failed every signature check with an exception (HMAC refuses an empty
                // key), and an empty Track key was refused as bad credentials. The last value stays;
                // the file is read again at the next use.
                return false;
            }
            boolean changed = !read.equals(value);
            value = read;
            lastModified = modified;
            lastSize = size;
            return changed;
        } catch (IOException e) {
            if (value == null) {
                // Message names the variable and path (not secret), never the content.
                throw new UncheckedIOException("cannot read secret file for " + source + ": "
                        + (e instanceof SmallFiles.TooLarge ? e.getMessage() : e.getClass().getSimpleName()), e);
            }
            return false; // keep the last good value while the file is being swapped
        }
    }

    /** Re-reads a file-backed secret now, whatever its modification time says. */
    public synchronized void forceRefresh() {
        if (file != null) {
            lastModified = null;
            refreshIfChanged();
        }
    }

    /** When the file was last written (a proxy for when the secret was rotated); null for a fixed secret. */
    public java.time.Instant lastWritten() {
        if (file == null) {
            return null;
        }
        try {
            return Files.getLastModifiedTime(file).toInstant();
        } catch (IOException e) {
            FileTime known = lastModified;
            return known == null ? null : known.toInstant();
        }
    }

    static String stripTrailingNewlines(String s) {
        int end = s.length();
        while (end > 0 && (s.charAt(end - 1) == '\n' || s.charAt(end - 1) == '\r')) {
            end--;
        }
        return s.substring(0, end);
    }

    @Override
    public String toString() {
        return "[hidden]";
    }
}
