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

    private String idOf(String fields) throws Exception {
        return submitter.check().check(row("{\"identifier\":{\"type\":\"email\",\"value\":\"jane@example.com\"}," + fields + "}"))
                .requestId();
    }

    /** README, "Everyday use": what a generated request id is derived from, and what leaves it unchanged. */
    @Test
    void aGeneratedIdFollowsThePersonRegulationTicketGivenTimeAndWorkspaces() throws Exception {
        String base = idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\"");
        assertThat(idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\"")).as("the same row").isEqualTo(base);
        assertThat(submitter.check().check(row("{\"identifier\":{\"type\":\"email\",\"value\":\"joe@example.com\"},"
                + "\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\"}")).requestId()).as("another person").isNotEqualTo(base);
        assertThat(idOf("\"regulation\":\"CCPA\",\"requested_by\":\"desk/T-1\"")).startsWith("sub-ccpa-");
        assertThat(idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-2\"")).as("a new ticket").isNotEqualTo(base);
        String dated = idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\",\"requested_at\":\"2026-12-01T10:00:00Z\"");
        assertThat(dated).as("a given time").isNotEqualTo(base);
        assertThat(idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\",\"requested_at\":\"2026-12-01T11:00:00+01:00\""))
                .as("the same moment written with another offset").isEqualTo(dated);
        String two = idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\",\"workspaces\":[\"eu\",\"us\"]");
        assertThat(two).as("named workspaces").isNotEqualTo(base);
        assertThat(idOf("\"regulation\":\"GDPR\",\"requested_by\":\"desk/T-1\",\"workspaces\":[\"us\",\"eu\"]")).as("in any order")
                .isEqualTo(two);
    }
}
