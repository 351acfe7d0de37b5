package dev.cioerasure.audit;

import java.util.Optional;

/** The duplicate check: a request's final outcome so far ({@link OutcomeLookup}). */
public interface FinalOutcomes {
    /** COMPLETED if the request was ever completed, else FAILED if it ever failed, else empty. */
    Optional<Outcome> finalOutcome(String requestId);
}
