package dev.cioerasure.evidence;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cioerasure.audit.AuditQueries;
import java.security.PublicKey;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A signed erasure receipt: what the audit table says about one request, in a file an auditor
 * keeps and checks offline without trusting the database or this program.
 *
 * <p>The file is the signed form ({@link SignedJson}): one line of canonical JSON whose
 * {@code signature} member is the Ed25519 signature of the same object without it. {@link #verify} accepts only that exact
 * form, so any changed byte fails: content by the signature, layout by the form.
 */
public final class Receipt {
    public static final String FORMAT = "cio-erasure-receipt/1";

    private Receipt() { }

    /**
     * The receipt of one request's audit rows (chain order), signed.
     *
     * @param rowHashes each row's chain link by chain position
     */
    public static byte[] issue(String requestId, List<AuditQueries.Row> allRows, Map<Long, String> rowHashes, SigningKey key,
                               Instant issuedAt) {
        // another identifier's record under this id (REQUEST_ID_REUSED) is not this person's request
        List<AuditQueries.Row> own = allRows.stream().filter(x -> !x.reusedId()).toList();
        // nor, once the request is erased, another identifier's record that ran beside the erasure
        // (two records of the id in two instances at once): the receipt is the erased person's
        String erasedSubject = own.stream().filter(x -> "COMPLETED".equals(x.outcome()) && x.subjectHash() != null)
                .map(AuditQueries.Row::subjectHash).findFirst().orElse(null);
        if (erasedSubject != null) {
            own = own.stream().filter(x -> x.subjectHash() == null || x.subjectHash().equals(erasedSubject)).toList();
        }
        List<AuditQueries.Row> rows = own.isEmpty() ? allRows : own;
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        r.put("format", FORMAT);
        r.put("request_id", requestId);
        AuditQueries.Row first = rows.stream().filter(x -> x.regulation() != null).findFirst().orElse(rows.get(0));
        r.put("regulation", first.regulation());
        r.put("requested_at", str(first.requestedAt()));
        r.put("deadline_at", str(first.deadlineAt()));
        r.put("subject_hash", first.subjectHash());
        r.put("identifier_type", first.identifierType());
        AuditQueries.Row completed = rows.stream().filter(x -> "COMPLETED".equals(x.outcome())).findFirst().orElse(null);
        AuditQueries.Row last = rows.stream().filter(x -> "OUTCOME".equals(x.step()) && !"DUPLICATE".equals(x.outcome()))
                .reduce((a, b) -> b).orElse(rows.get(rows.size() - 1));
        r.put("status", completed != null ? "COMPLETED" : last.outcome());
        r.put("erased", completed != null);
        r.put("erased_at", completed == null ? null : str(completed.occurredAt()));
        if (completed == null || completed.deadlineAt() == null) {
            r.putNull("on_time");
        } else {
            r.put("on_time", !completed.occurredAt().isAfter(completed.deadlineAt()));
        }
        // Over the VERIFY rows, one per workspace (AuditQueries.Verification says how they fold).
        AuditQueries.Verification verification = AuditQueries.Verification.of(rows, completed != null);
        r.put("verification", verification.outcome());
        if (verification.verifiedAt() == null) {
            r.putNull("verified_at");
        } else {
            r.put("verified_at", str(verification.verifiedAt()));
        }
        ArrayNode steps = r.putArray("rows");
        for (AuditQueries.Row row : rows) {
            ObjectNode s = steps.addObject();
            s.put("chain_seq", row.seq());
            s.put("row_hash", rowHashes.get(row.seq()));
            s.put("step", row.step());
            if (row.workspace() != null) {
                s.put("workspace", row.workspace());
            }
            s.put("outcome", row.outcome());
            if (row.httpStatus() == null) {
                s.putNull("http_status");
            } else {
                s.put("http_status", row.httpStatus());
            }
            if (row.attempts() == null) {
                s.putNull("attempts");
            } else {
                s.put("attempts", row.attempts());
            }
            s.put("occurred_at", str(row.occurredAt()));
            s.put("recorded_at", str(row.recordedAt()));
        }
        r.put("issued_at", issuedAt.toString());
        return SignedJson.sign(r, key);
    }

    /** What checking a receipt file found. */
    public enum Verdict {
        VALID("signature valid: the receipt is as issued"),
        NOT_A_RECEIPT("not a receipt (not JSON, or no format " + FORMAT + ", or no signature)"),
        NOT_AS_ISSUED("the file is not byte for byte as issued (changed, reformatted, or re-encoded)"),
        OTHER_KEY("signed with another key than the one given (public_key_sha256 differs)"),
        BAD_SIGNATURE("the signature does not match the content: the receipt was changed");

        public final String meaning;

        Verdict(String meaning) {
            this.meaning = meaning;
        }
    }

    public static Verdict verify(byte[] file, PublicKey key) {
        Optional<ObjectNode> parsed = SignedJson.parse(file, FORMAT);
        if (parsed.isEmpty()) {
            return Verdict.NOT_A_RECEIPT;
        }
        ObjectNode r = parsed.get();
        if (!SignedJson.isFileForm(file, r)) {
            return Verdict.NOT_AS_ISSUED;
        }
        if (!SigningKey.fingerprint(key).equals(r.path("public_key_sha256").asText())) {
            return Verdict.OTHER_KEY;
        }
        return SignedJson.signatureHolds(r, key) ? Verdict.VALID : Verdict.BAD_SIGNATURE;
    }

    private static String str(Instant t) {
        return t == null ? null : t.toString();
    }
}
