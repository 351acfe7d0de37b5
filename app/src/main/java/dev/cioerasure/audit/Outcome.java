package dev.cioerasure.audit;

/**
 * What an audit row records. Step rows use SUCCEEDED/FAILED; outcome rows COMPLETED to
 * RETRY_SCHEDULED (and FAILED); VERIFY rows VERIFIED, STILL_PRESENT or UNVERIFIABLE.
 */
public enum Outcome {
    /** A Customer.io step succeeded; or (WORKSPACE rows) the person was erased in that workspace. */
    SUCCEEDED,
    /** Suppress and destroy both succeeded: the person is erased. Final. */
    COMPLETED,
    /** The erasure cannot be done (permanent error, or retries exhausted). Final; needs a person. */
    FAILED,
    /** The message broke the contract; nothing was sent to Customer.io. Resubmit it corrected. */
    REJECTED,
    /** The request id already had a final outcome; nothing was sent to Customer.io. */
    DUPLICATE,
    /** A transient failure outlasted the in-line retries; the request is parked for a later round. */
    RETRY_SCHEDULED,
    /** Verification: the App API no longer finds the person. */
    VERIFIED,
    /** Verification: the person was still present at the verification deadline. A compliance incident. */
    STILL_PRESENT,
    /** Verification could not be done: no App API key, or no check got an answer before the deadline. */
    UNVERIFIABLE,
    /**
     * A person closed a REJECTED or FAILED request without erasure (the command {@code close},
     * migration V14); written only by the database function close_request, never by the worker.
     */
    CLOSED;

    /** The final outcomes of a Kafka record (OUTCOME rows). */
    public static final java.util.Set<Outcome> RECORD_OUTCOMES = java.util.Collections.unmodifiableSet(
            java.util.EnumSet.of(COMPLETED, FAILED, REJECTED, DUPLICATE, RETRY_SCHEDULED));

    /** The outcomes of a VERIFY row. */
    public static final java.util.Set<Outcome> VERIFICATION_OUTCOMES = java.util.Collections.unmodifiableSet(
            java.util.EnumSet.of(VERIFIED, STILL_PRESENT, UNVERIFIABLE));
}
