package dev.cioerasure.intake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.request.ErasureRequest;
import dev.cioerasure.request.IdentifierType;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** A webhook body is read as strictly as a request on the topic: one value per field, one object. */
class WebhookPayloadTest {
    private static ErasureRequest parse(String body) {
        return WebhookPayload.toRequest(body.getBytes(StandardCharsets.UTF_8), Instant.parse("2026-12-06T10:00:00Z"),
                identifier -> "0".repeat(64));
    }

    @Test
    void aFieldNamedTwiceOrASecondObjectIsRefusedNotGuessed() {
        // Jackson's default reader takes the last "email" (b@) and ignores what follows the first object
        for (String body : new String[] {
                "{\"email\":\"a@example.com\",\"email\":\"b@example.com\"}",
                "{\"cio_id\":\"a1\",\"regulation\":\"GDPR\",\"regulation\":\"CCPA\"}",
                "{\"email\":\"a@example.com\"} {\"email\":\"b@example.com\"}",
                "{\"email\":\"a@example.com\"} // b@example.com"}) {
            assertThatThrownBy(() -> parse(body)).as(body).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("names a field twice").message().doesNotContain("example.com", "a1");
        }
    }

    @Test
    void oneValuePerFieldIsRead() {
        ErasureRequest r = parse("{\"email\":\"a@example.com\",\"regulation\":\"CCPA\"}");
        assertThat(r.identifier().type()).isEqualTo(IdentifierType.EMAIL);
        assertThat(r.regulation().name()).isEqualTo("CCPA");
        assertThat(r.requestId()).startsWith("cio-webhook-ccpa-");
    }
}
