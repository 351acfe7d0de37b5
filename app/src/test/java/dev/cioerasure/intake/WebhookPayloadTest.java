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
                Instant.parse("2026-12-06T09:59:58Z"),
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
        assertThat(r.requestId()).isEqualTo("cio-webhook-ccpa-2026-12-06-" + "0".repeat(32));
    }

    @Test
    void aRequestWithoutIdIsARepeatOnTheSameDayAndANewRequestOnAnotherDay() {
        byte[] body = "{\"email\":\"a@example.com\"}".getBytes(StandardCharsets.UTF_8);
        java.util.function.Function<dev.cioerasure.request.Identifier, String> hash = i -> "ab".repeat(32);
        Instant morning0 = Instant.parse("2026-12-06T00:00:01Z");
        String morning = WebhookPayload.toRequest(body, morning0, morning0, hash).requestId();
        Instant night0 = Instant.parse("2026-12-06T23:58:00Z");
        String night = WebhookPayload.toRequest(body, night0, night0, hash).requestId();
        String replayAfterMidnight = WebhookPayload.toRequest(body, Instant.parse("2026-12-07T00:02:00Z"), night0, hash).requestId();
        Instant nextDay0 = Instant.parse("2026-12-07T09:00:00Z");
        String nextDay = WebhookPayload.toRequest(body, nextDay0, nextDay0, hash).requestId();
        assertThat(night).as("Customer.io retrying the webhook that day").isEqualTo(morning);
        assertThat(replayAfterMidnight).as("the same signed request replayed at another intake after midnight").isEqualTo(night);
        assertThat(nextDay).as("the same person signed up again and is erased again").isNotEqualTo(morning)
                .isEqualTo("cio-webhook-gdpr-2026-12-07-" + "ab".repeat(16));
        String given = WebhookPayload.toRequest("{\"email\":\"a@example.com\",\"request_id\":\"ticket-9\"}"
                .getBytes(StandardCharsets.UTF_8), nextDay0, nextDay0, hash).requestId();
        assertThat(given).isEqualTo("ticket-9");
    }

    /** Jackson read a body in UTF-16 or UTF-32 (no byte order mark) as such; the contract is UTF-8. */
    @Test
    void aBodyInUtf16IsRefused() {
        for (java.nio.charset.Charset cs : new java.nio.charset.Charset[] {StandardCharsets.UTF_16LE, StandardCharsets.UTF_16BE}) {
            byte[] body = "{\"email\":\"a@example.com\"}".getBytes(cs);
            assertThatThrownBy(() -> WebhookPayload.toRequest(body, Instant.parse("2026-12-06T10:00:00Z"),
                    Instant.parse("2026-12-06T10:00:00Z"), identifier -> "0".repeat(64)))
                    .as(cs.name()).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("body holds NUL bytes: UTF-16 or UTF-32 text, not UTF-8 JSON");
        }
    }
}
