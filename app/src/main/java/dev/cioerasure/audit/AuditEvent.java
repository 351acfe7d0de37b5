package dev.cioerasure.audit;

import java.time.Instant;

/**
 * One row to append. Carries no personal data: the subject only as {@link SubjectHasher} hash,
 * the reason as a rule or status text. Nullable fields are unknown for that row (e.g. a
 * rejected message has no valid identifier). {@code workspace} names the Customer.io workspace a
 * step, WORKSPACE or VERIFY row is about; null on the request's own OUTCOME rows.
 */
public record AuditEvent(
        String requestId,
        String subjectHash,
        String identifierType,
        Step step,
        Outcome outcome,
        Integer httpStatus,
        Integer attempts,
        String reason,
        String regulation,
        Instant requestedAt,
        Instant deadlineAt,
        String requestedBy,
        KafkaCoordinates source,
        Instant occurredAt,
        String workspace) {

    /** A row about no workspace in particular (the request's own outcome, a rejection). */
    public AuditEvent(String requestId, String subjectHash, String identifierType, Step step, Outcome outcome, Integer httpStatus,
                      Integer attempts, String reason, String regulation, Instant requestedAt, Instant deadlineAt, String requestedBy,
                      KafkaCoordinates source, Instant occurredAt) {
        this(requestId, subjectHash, identifierType, step, outcome, httpStatus, attempts, reason, regulation, requestedAt, deadlineAt,
                requestedBy, source, occurredAt, null);
    }

    /** The same row about the given workspace. */
    public AuditEvent inWorkspace(String name) {
        return new AuditEvent(requestId, subjectHash, identifierType, step, outcome, httpStatus, attempts, reason, regulation,
                requestedAt, deadlineAt, requestedBy, source, occurredAt, name);
    }

    /** Where the message came from: topic, partition, offset. */
    public record KafkaCoordinates(String topic, int partition, long offset) {
        @Override
        public String toString() {
            return topic + "-" + partition + "@" + offset;
        }
    }
}
