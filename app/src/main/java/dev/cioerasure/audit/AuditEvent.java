package dev.cioerasure.audit;

import java.time.Instant;

/**
 * One row to append. Carries no personal data: the subject only as {@link SubjectHasher} hash,
 * the reason as a rule or status text. Nullable fields are unknown for that row (e.g. a
 * rejected message has no valid identifier).
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
        Instant occurredAt) {

    /** Where the message came from: topic, partition, offset. */
    public record KafkaCoordinates(String topic, int partition, long offset) {
        @Override
        public String toString() {
            return topic + "-" + partition + "@" + offset;
        }
    }
}
