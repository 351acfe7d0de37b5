package dev.cioerasure.kafka;

import java.nio.charset.StandardCharsets;

/**
 * The key of a request record: the subject's keyed hash (never the identifier). One person's
 * requests therefore land on one partition, in order, and a compacted or inspected topic shows
 * no personal data in its keys. Every producer of requests (submit, intake, demo, bench) uses it.
 */
public final class RecordKeys {
    private RecordKeys() { }

    /** @param subjectHash the subject's keyed hash, as {@code SubjectHasher} computes it */
    public static byte[] forSubject(String subjectHash) {
        return subjectHash.getBytes(StandardCharsets.UTF_8);
    }
}
