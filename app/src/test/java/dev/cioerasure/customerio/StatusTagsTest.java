package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class StatusTagsTest {
    @Test
    void theCodesThatMatterAreKeptAndAnyOtherIsItsClass() {
        assertThat(StatusTags.of(200, "io_error")).isEqualTo("200");
        assertThat(StatusTags.of(429, "io_error")).isEqualTo("429");
        assertThat(StatusTags.of(503, "io_error")).isEqualTo("503");
        assertThat(StatusTags.of(0, "timeout")).isEqualTo("timeout");
        assertThat(StatusTags.of(520, "io_error")).isEqualTo("5xx");
        assertThat(StatusTags.of(302, "io_error")).isEqualTo("3xx");
        assertThat(StatusTags.of(299, "io_error")).isEqualTo("2xx");
        assertThat(StatusTags.of(999, "io_error")).isEqualTo("other");
    }

    /** A server answering every code a client accepts makes a few dozen tags, not a thousand. */
    @Test
    void everyCodeAServerCanSendMakesABoundedSetOfTags() {
        Set<String> tags = new HashSet<>();
        for (int status = 100; status <= 999; status++) {
            tags.add(StatusTags.of(status, "io_error"));
            tags.add(new TrackResult(TrackOperation.SUPPRESS, status, TrackResult.classify(status), java.util.Optional.empty(),
                    "http " + status, java.time.Duration.ZERO).metricTag());
        }
        assertThat(tags).hasSizeLessThanOrEqualTo(25);
    }
}
