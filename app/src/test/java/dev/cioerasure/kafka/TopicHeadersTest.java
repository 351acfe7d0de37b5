package dev.cioerasure.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

/** A header's text is read only when a person may see all of it: what the operator commands print. */
class TopicHeadersTest {
    private static RecordHeaders reason(String text) {
        RecordHeaders h = new RecordHeaders();
        h.add(TopicHeaders.REASON, text.getBytes(StandardCharsets.UTF_8));
        return h;
    }

    @Test
    void aReasonWithAnythingATerminalActsOnOrHidesIsNotRead() {
        assertThat(TopicHeaders.valid(reason("suppress: http 400 (café)"), TopicHeaders.REASON)).contains("suppress: http 400 (café)");
        for (String hostile : new String[] {"a\u001b[2Jb", "a\u009b2Jb", "a\u202eb", "a\u200bb", "a\ud83d\ude00b\udb40\udc20",
                "a\u2028b", "a\u2029b", "a\uffffb"}) {
            assertThat(TopicHeaders.valid(reason(hostile), TopicHeaders.REASON)).as(hostile.codePoints()
                    .mapToObj(Integer::toHexString).toList().toString()).isEmpty();
        }
        assertThat(TopicHeaders.valid(reason("fan \ud83d\ude00"), TopicHeaders.REASON)).as("an emoji is visible").isPresent();
    }
}
