package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.SetClock;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** No Track call goes to a URL that has not refused a made-up key within the hour. */
class TrackUrlWatchTest {
    private static final URI URL = URI.create("https://track.example.test");

    private final SetClock clock = new SetClock(Instant.parse("2026-12-07T10:00:00Z"));
    private final Deque<TrackResult> answers = new ArrayDeque<>();
    private final AtomicInteger asked = new AtomicInteger();
    private final TrackUrlWatch watch = new TrackUrlWatch(URL, () -> {
        asked.incrementAndGet();
        return answers.remove();
    }, clock);

    private static TrackResult http(int status) {
        return new TrackResult(TrackOperation.REGION, status, TrackResult.classify(status), Optional.empty(), "http " + status,
                Duration.ZERO);
    }

    private static TrackResult noAnswer() {
        return new TrackResult(TrackOperation.REGION, 0, TrackResult.Kind.RETRYABLE, Optional.empty(), "io_error", Duration.ZERO);
    }

    @Test
    void aUrlThatRefusedTheMadeUpKeyAtTheStartIsAskedAgainOnlyAfterAnHour() {
        watch.answered(http(401));
        assertThat(watch.holdBack(TrackOperation.SUPPRESS)).isEmpty();
        clock.advance(Duration.ofMinutes(59));
        assertThat(watch.holdBack(TrackOperation.DESTROY)).isEmpty();
        assertThat(asked).as("vouched for by the start's answer").hasValue(0);

        clock.advance(Duration.ofMinutes(2));
        answers.add(http(404)); // a 4xx other than 401 also refuses: it did not take the key
        assertThat(watch.holdBack(TrackOperation.SUPPRESS)).isEmpty();
        assertThat(asked).hasValue(1);
    }

    /**
     * The start's check got no answer (the server behind the URL was not up yet), and a catch-all
     * server that takes any key came up there: before, every call went to it and was recorded
     * SUCCEEDED. Now none is sent; they come back refused, so the credential gate pauses.
     */
    @Test
    void aUrlUnansweredAtTheStartThatThenAcceptsAMadeUpKeyGetsNoCall() {
        watch.answered(noAnswer());
        TrackResult unanswered = watch.holdBack(TrackOperation.SUPPRESS).orElseThrow();
        assertThat(unanswered.kind()).as("as the call itself would have failed").isEqualTo(TrackResult.Kind.RETRYABLE);
        assertThat(unanswered.metricTag()).as("the check's answer, for the metrics and the runbooks").isEqualTo("io_error");
        assertThat(unanswered.operation()).isEqualTo(TrackOperation.SUPPRESS);
        assertThat(watch.holdBack(TrackOperation.SUPPRESS)).isPresent();
        assertThat(asked).as("asked again at most every 2 s").hasValue(0);

        clock.advance(Duration.ofSeconds(3));
        answers.add(http(200));
        try (LogCapture logs = LogCapture.capture()) {
            TrackResult accepted = watch.holdBack(TrackOperation.SUPPRESS).orElseThrow();
            assertThat(accepted.kind()).isEqualTo(TrackResult.Kind.UNAUTHORIZED);
            assertThat(accepted.metricTag()).isEqualTo(TrackUrlWatch.ACCEPTS_MADE_UP_KEY);
            assertThat(watch.holdBack(TrackOperation.REGION)).as("the credential gate's probe too").isPresent();
            assertThat(logs.lines()).filteredOn(l -> l.contains("TrackUrlWatch")).singleElement().asString()
                    .contains(URL.toString(), "answered HTTP 200", "not Customer.io's Track API");
        }
        assertThat(asked).hasValue(1);

        clock.advance(Duration.ofSeconds(9));
        assertThat(watch.holdBack(TrackOperation.SUPPRESS)).as("an accepting URL is asked again at most every 10 s").isPresent();
        assertThat(asked).hasValue(1);
        clock.advance(Duration.ofSeconds(2));
        answers.add(noAnswer());
        assertThat(watch.holdBack(TrackOperation.SUPPRESS).orElseThrow().metricTag())
                .as("no answer does not clear a URL that accepted the made-up key").isEqualTo(TrackUrlWatch.ACCEPTS_MADE_UP_KEY);

        clock.advance(Duration.ofSeconds(3));
        answers.add(http(401));
        try (LogCapture logs = LogCapture.capture()) {
            assertThat(watch.holdBack(TrackOperation.SUPPRESS)).as("Customer.io behind the URL again").isEmpty();
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("refused a made-up key (HTTP 401): calls there go out"));
        }
    }

    @Test
    void anAnswerThatSaysNothingIsNoVouch() {
        try (LogCapture logs = LogCapture.capture()) {
            for (int status : new int[] {429, 503, 301, 408}) {
                answers.add(http(status));
                clock.advance(Duration.ofSeconds(3));
                TrackResult held = watch.holdBack(TrackOperation.SUPPRESS).orElseThrow();
                assertThat(held.kind()).as("HTTP %d", status).isEqualTo(TrackResult.Kind.RETRYABLE);
                assertThat(held.metricTag()).isEqualTo(status == 301 ? "3xx" : Integer.toString(status));
            }
            assertThat(logs.lines()).as("said once, not at every answer of an outage")
                    .filteredOn(l -> l.contains("did not answer a credential check")).hasSize(1);
        }
        answers.add(new TrackResult(TrackOperation.REGION, 429, TrackResult.Kind.RETRYABLE, Optional.of(Duration.ofSeconds(7)),
                "http 429", Duration.ZERO));
        clock.advance(Duration.ofSeconds(3));
        assertThat(watch.holdBack(TrackOperation.DESTROY).orElseThrow().retryAfter()).as("the check's Retry-After").contains(
                Duration.ofSeconds(7));
        answers.add(http(401));
        clock.advance(Duration.ofSeconds(3));
        assertThat(watch.holdBack(TrackOperation.SUPPRESS)).isEmpty();
    }
}
