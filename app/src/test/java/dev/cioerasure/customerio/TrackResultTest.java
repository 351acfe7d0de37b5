package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.customerio.TrackResult.Kind;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TrackResultTest {

    @ParameterizedTest(name = "{0} is {1}")
    @CsvSource({
            "200, SUCCESS", "204, SUCCESS",
            "408, RETRYABLE", "429, RETRYABLE", "500, RETRYABLE", "502, RETRYABLE", "503, RETRYABLE", "504, RETRYABLE",
            "401, UNAUTHORIZED", "403, UNAUTHORIZED",
            "400, PERMANENT", "404, PERMANENT", "409, PERMANENT", "413, PERMANENT", "422, PERMANENT",
            "301, RETRYABLE", "302, RETRYABLE", "307, RETRYABLE", "308, RETRYABLE"
    })
    void classifiesStatusCodesAsTheTrackApiDocumentsThem(int status, Kind kind) {
        assertThat(TrackResult.classify(status)).isEqualTo(kind);
    }
}
