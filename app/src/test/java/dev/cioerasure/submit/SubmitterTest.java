package dev.cioerasure.submit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Secret;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class SubmitterTest {
    private final Submitter submitter = new Submitter(new SubjectHasher(Secret.of("AUDIT_SUBJECT_KEY", "0123456789abcdef0123456789abcdef")),
            Clock.fixed(Instant.parse("2026-12-06T10:00:00Z"), ZoneOffset.UTC));

    private static RequestFile.Row row(String json) throws Exception {
        return new RequestFile.Row(2, (ObjectNode) new ObjectMapper().readTree(json), null);
    }

    /**
     * A row without a request id is checked with a stand-in id before its own is made; the
     * stand-in must name nobody, or a person whose id is the stand-in's text would be refused
     * as "request_id holds the identifier's value".
     */
    @Test
    void aRowWithoutARequestIdIsCheckedWithAStandInThatNamesNobody() throws Exception {
        for (String id : new String[] {"placeholder", "00000000000000000000000000000000", "gdpr", "sub"}) {
            Submitter.Checked c = submitter.check().check(row("{\"identifier\":{\"type\":\"id\",\"value\":\"" + id + "\"},"
                    + "\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\"}"));
            assertThat(c.problem()).as(id).isNull();
            assertThat(c.idGenerated()).isTrue();
            assertThat(c.requestId()).matches("sub-gdpr-[0-9a-f]{32}").isNotEqualTo("sub-gdpr-00000000000000000000000000000000");
        }
        Submitter.Checked given = submitter.check().check(row("{\"request_id\":\"T-1\",\"identifier\":{\"type\":\"id\",\"value\":\"p-1\"},"
                + "\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\"}"));
        assertThat(given.idGenerated()).isFalse();
        assertThat(given.requestId()).isEqualTo("T-1");
    }
}
