package dev.cioerasure.audit;

/** What an audit row records. Step rows use SUCCEEDED/FAILED; outcome rows the rest (and FAILED). */
public enum Outcome {
    /** A Customer.io step succeeded. */
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
    RETRY_SCHEDULED;
}
