package dev.cioerasure.request;

import java.util.Optional;

/** Either a valid request or a rejection; never an exception. */
public sealed interface ParseResult {

    record Valid(ErasureRequest request) implements ParseResult { }

    /**
     * @param requestId the message's request id when it was itself valid, so the rejection can be
     *                  tied to the privacy team's ticket; empty otherwise
     */
    record Invalid(Rejection rejection, Optional<String> requestId) implements ParseResult { }
}
