package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.customerio.PresenceResult.Kind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PresenceResultTest {

    /**
     * A 3xx (a CUSTOMERIO_APP_URL on http://, a proxy) was PERMANENT: each verification was written
     * UNVERIFIABLE at its first check, and that row is the only one its request gets.
     */
    @ParameterizedTest(name = "{0} is {1}")
    @CsvSource({
            "404, GONE", "200, PRESENT",
            "408, RETRYABLE", "429, RETRYABLE", "503, RETRYABLE", "301, RETRYABLE", "302, RETRYABLE", "308, RETRYABLE",
            "401, UNAUTHORIZED", "403, UNAUTHORIZED",
            "400, PERMANENT", "422, PERMANENT"
    })
    void classifiesTheLookUpsStatusCodes(int status, Kind kind) {
        assertThat(PresenceResult.classify(status)).isEqualTo(kind);
    }
}
