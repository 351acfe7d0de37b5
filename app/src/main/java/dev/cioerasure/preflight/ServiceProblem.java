package dev.cioerasure.preflight;

/**
 * A service (PostgreSQL, Kafka, a port) cannot be used. The message is one line for an
 * operator: the setting to look at and the cause, never a secret and never a stack trace.
 */
public final class ServiceProblem extends RuntimeException {
    /** What kind of fix it needs, which decides the exit code. */
    public enum Kind {
        /** A setting is wrong: password, user, unknown host, missing database or topic, busy port (exit 78). */
        CONFIGURATION,
        /** The service does not answer now: refused, timed out (exit 69); it may come back. */
        UNAVAILABLE
    }

    private final Kind kind;

    public ServiceProblem(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
