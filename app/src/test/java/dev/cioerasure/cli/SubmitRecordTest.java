package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Secret;
import dev.cioerasure.submit.RequestFile;
import dev.cioerasure.submit.Submitter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * submit's record of what was sent is made by reading the file again after sending. A file that
 * changed in between (an export still being written, a row edited) made a record naming requests
 * never sent, which a later --skip-submitted then skipped for good. The record is now written only
 * when the file, read again, selects the very requests that were sent.
 */
class SubmitRecordTest {
    private static final String HEADER = "request_id,identifier_type,identifier,regulation,requested_by\n";

    @TempDir
    Path dir;

    private final Submitter submitter = new Submitter(new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "0123456789abcdef0123")),
            Clock.fixed(Instant.parse("2026-12-06T10:00:00Z"), ZoneOffset.UTC));

    private static byte[] sent(String... ids) {
        SubmitCommand.IdDigest d = new SubmitCommand.IdDigest();
        for (String id : ids) {
            d.add(id);
        }
        return d.digest();
    }

    private List<String> recordedIds(Path record) throws Exception {
        return RequestFile.read(record, RequestFile.Format.CSV).rows().stream().map(r -> r.message().get("request_id").asText()).toList();
    }

    @Test
    void theRequestsSentAreRecordedWhenTheFileIsUnchanged() throws Exception {
        Path file = Files.writeString(dir.resolve("r.csv"), HEADER + "a-1,id,p-1,GDPR,desk/1\na-2,id,p-2,GDPR,desk/1\na-3,id,p-3,GDPR,desk/1\n");
        Path record = dir.resolve("r.submitted.csv");
        SubmitCommand.record(SubmitCommand.Ledger.read(record, RequestFile.Format.CSV), record, RequestFile.Format.CSV, false, file,
                submitter, id -> true, Integer.MAX_VALUE, Set.of("a-2"), sent("a-1", "a-2", "a-3"));
        assertThat(recordedIds(record)).as("a-2 was not acknowledged").containsExactly("a-1", "a-3");
    }

    /** A submit stopped by a signal sent the first rows only: those are recorded (less the unacknowledged), the rest not. */
    @Test
    void aStoppedSubmitRecordsTheRowsItSentUpToWhereItStopped() throws Exception {
        Path file = Files.writeString(dir.resolve("r.csv"), HEADER + "a-1,id,p-1,GDPR,desk/1\na-2,id,p-2,GDPR,desk/1\na-3,id,p-3,GDPR,desk/1\n"
                + "a-4,id,p-4,GDPR,desk/1\n");
        Path record = dir.resolve("r.submitted.csv");
        SubmitCommand.record(SubmitCommand.Ledger.read(record, RequestFile.Format.CSV), record, RequestFile.Format.CSV, false, file,
                submitter, id -> !id.equals("a-1"), 2, Set.of("a-3"), sent("a-2", "a-3"));
        assertThat(recordedIds(record)).as("a-1 not selected, a-3 not acknowledged, a-4 not sent").containsExactly("a-2");
    }

    @Test
    void aFileChangedAfterSendingLeavesTheRecordAsItWas() throws Exception {
        Path record = Files.writeString(dir.resolve("r.submitted.csv"), HEADER + "old-1,id,p-0,GDPR,desk/0\n");
        Path file = Files.writeString(dir.resolve("r.csv"), HEADER + "a-1,id,p-1,GDPR,desk/1\nb-9,id,p-9,GDPR,desk/1\n");
        // a-1 and a-2 were sent; then a-2's row was replaced by one never sent
        assertThatThrownBy(() -> SubmitCommand.record(SubmitCommand.Ledger.read(record, RequestFile.Format.CSV), record,
                RequestFile.Format.CSV, false, file, submitter, id -> true, Integer.MAX_VALUE, Set.of(), sent("a-1", "a-2")))
                .isInstanceOf(SubmitCommand.ChangedAfterSending.class);
        assertThat(recordedIds(record)).containsExactly("old-1");
        try (var left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString()).sorted()).as("no temporary record left behind")
                    .containsExactly("r.csv", "r.submitted.csv");
        }
        // rows added after sending are no more recorded than rows replaced
        Files.writeString(file, HEADER + "a-1,id,p-1,GDPR,desk/1\na-2,id,p-2,GDPR,desk/1\nc-1,id,p-3,GDPR,desk/1\n");
        assertThatThrownBy(() -> SubmitCommand.record(SubmitCommand.Ledger.read(record, RequestFile.Format.CSV), record,
                RequestFile.Format.CSV, false, file, submitter, id -> true, Integer.MAX_VALUE, Set.of(), sent("a-1", "a-2")))
                .isInstanceOf(SubmitCommand.ChangedAfterSending.class);
        assertThat(recordedIds(record)).containsExactly("old-1");
    }
}
