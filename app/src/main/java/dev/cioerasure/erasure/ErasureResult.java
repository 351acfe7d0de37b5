package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackResult;

/**
 * Suppress then destroy, as far as it got. {@code destroy} is null when suppress did not
 * succeed (destroy is never attempted before suppress has succeeded). {@code suppress} is null
 * when it had succeeded in an earlier round, and only destroy was called.
 */
public record ErasureResult(StepResult suppress, StepResult destroy) {

    public enum Verdict {
        /** Both steps succeeded. */
        COMPLETED,
        /** A step failed with a non-retryable error (4xx other than 408/429). */
        PERMANENT_FAILURE,
        /** Customer.io refused the credentials (401/403). */
        UNAUTHORIZED,
        /** A step kept failing with retryable errors until the in-line attempts ran out. */
        RETRIES_EXHAUSTED,
        /** A step was not called: the workspace is paused (outage or refused credentials). Not a failure. */
        PAUSED
    }

    public Verdict verdict() {
        StepResult failed = failedStep();
        if (failed == null) {
            return Verdict.COMPLETED;
        }
        return switch (failed.last().kind()) {
            case UNAUTHORIZED -> Verdict.UNAUTHORIZED;
            case RETRYABLE -> Verdict.RETRIES_EXHAUSTED;
            case PAUSED -> Verdict.PAUSED;
            default -> Verdict.PERMANENT_FAILURE;
        };
    }

    /** The step that did not succeed, or null when both did. */
    public StepResult failedStep() {
        if (suppress != null && !suppress.last().isSuccess()) {
            return suppress;
        }
        return destroy.last().isSuccess() ? null : destroy;
    }

    /** A reason without personal data, e.g. {@code destroy: http 503 after 5 attempts (retryable)}. */
    public String reason() {
        StepResult f = failedStep();
        if (f == null) {
            return null;
        }
        TrackResult r = f.last();
        if (r.kind() == TrackResult.Kind.PAUSED) {
            return r.operation().tag() + ": not called: " + r.detail() + " (workspace paused)";
        }
        return r.operation().tag() + ": " + r.detail() + " after " + f.attempts() + " attempt" + (f.attempts() == 1 ? "" : "s")
                + " (" + r.kind().name().toLowerCase(java.util.Locale.ROOT) + ")";
    }
}
