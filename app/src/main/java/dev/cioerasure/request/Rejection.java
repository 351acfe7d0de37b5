package dev.cioerasure.request;

/**
 * Why a message was rejected. The code is stable and low-cardinality (used as a metric tag and
 * DLQ header); the detail is for people. Neither ever contains a value from the message: only
 * field paths and rules, so a rejection can be logged and audited safely.
 */
public record Rejection(Code code, String detail) {

    public enum Code {
        EMPTY,
        OVERSIZE,
        NOT_UTF8,
        MALFORMED_JSON,
        NOT_AN_OBJECT,
        TOO_DEEP,
        UNKNOWN_FIELD,
        MISSING_FIELD,
        WRONG_TYPE,
        INVALID_VALUE,
        /**
         * The request id already has a final outcome (COMPLETED or FAILED) for another subject: this
         * is another request under its id, not a copy of it. Set by the worker, not the parser.
         */
        REQUEST_ID_REUSED
    }

    /** {@code CODE: detail}, e.g. for a DLQ header or the audit reason. */
    public String describe() {
        return code + ": " + detail;
    }
}
