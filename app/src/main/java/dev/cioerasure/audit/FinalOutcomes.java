package dev.cioerasure.audit;

import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** The duplicate check: a request's final outcome so far ({@link OutcomeLookup}). */
public interface FinalOutcomes {
    /** COMPLETED if the request was ever completed, else FAILED if it ever failed, else empty. */
    Optional<Outcome> finalOutcome(String requestId);

    /**
     * The request's final outcome so far and the workspaces it has completed in (a later round
     * erases only in the others).
     */
    default Standing standing(String requestId) {
        return new Standing(finalOutcome(requestId), Set.of(), Set.of());
    }

    /** {@link #standing}, answered later where the look-up is batched (no thread waits for it). */
    default CompletableFuture<Standing> standingAsync(String requestId) {
        try {
            return CompletableFuture.completedFuture(standing(requestId));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * @param completedWorkspaces  the workspaces with a WORKSPACE SUCCEEDED row for the request
     * @param suppressedWorkspaces the workspaces with a SUPPRESS SUCCEEDED row for it (a later round
     *                             only destroys there: the suppression was accepted and holds)
     * @param outcomeRecords       the Kafka records ({@code topic-partition@offset}) whose OUTCOME row
     *                             gave the request its final outcome: one of them read again (after a
     *                             restart or a rebalance) is that record redone, not a duplicate request
     * @param outcomeSubjects      the subject hashes of those OUTCOME rows (empty: not known): a record
     *                             of the request id for another subject is no copy of the request, but
     *                             another request under its id
     */
    record Standing(Optional<Outcome> outcome, Set<String> completedWorkspaces, Set<String> suppressedWorkspaces,
                    Set<String> outcomeRecords, Set<String> outcomeSubjects) {
        public Standing {
            completedWorkspaces = Set.copyOf(completedWorkspaces);
            suppressedWorkspaces = Set.copyOf(suppressedWorkspaces);
            outcomeRecords = Set.copyOf(outcomeRecords);
            outcomeSubjects = Set.copyOf(outcomeSubjects);
        }

        public Standing(Optional<Outcome> outcome, Set<String> completedWorkspaces, Set<String> suppressedWorkspaces,
                        Set<String> outcomeRecords) {
            this(outcome, completedWorkspaces, suppressedWorkspaces, outcomeRecords, Set.of());
        }

        /** Whether the request's final outcome is known to be another subject's, not this one's. */
        public boolean decidedForAnother(String subject) {
            return outcome.isPresent() && !outcomeSubjects.isEmpty() && !outcomeSubjects.contains(subject);
        }

        public Standing(Optional<Outcome> outcome, Set<String> completedWorkspaces, Set<String> suppressedWorkspaces) {
            this(outcome, completedWorkspaces, suppressedWorkspaces, Set.of());
        }
    }
}
