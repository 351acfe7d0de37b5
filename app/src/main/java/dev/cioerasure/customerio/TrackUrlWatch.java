package dev.cioerasure.customerio;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether what answers at one Track URL checks credentials, asked again while the worker runs.
 *
 * <p>The worker's start asks each Track URL with a made-up site id and key, and stops (exit 78)
 * when it is accepted: whatever accepts it (a catch-all mock, a sandbox left in the settings) is
 * not Customer.io, and every suppress and destroy sent there would be recorded SUCCEEDED with
 * nobody erased. But an unanswered check proved nothing and the worker started: a sandbox started
 * after the worker (a compose file's order) then took every erasure. And the answer at a URL may
 * change while the worker runs (a DNS record, a proxy in the way).
 *
 * <p>So no call is sent to the URL unless it has refused a made-up key within the last
 * {@link #VOUCHED_FOR}: an HTTP answer that is neither a success nor one that says nothing (a 401,
 * as Customer.io answers, or another 4xx). Until it has, a call is held back, not sent:
 * <ul>
 *   <li>the URL accepted the made-up key: {@link TrackResult.Kind#UNAUTHORIZED}, detail
 *       {@link #ACCEPTS_MADE_UP_KEY}, so the workspace's credential gate pauses it and
 *       {@code erasure_credentials_rejected} alerts; asked again at most every {@link #ASK_AGAIN_ACCEPTED};</li>
 *   <li>the check got no answer, or one that tells nothing (408, 429, 5xx, 3xx): retryable, with
 *       the check's status or detail ({@code io_error}, {@code timeout}, {@code tls_error}, {@code 301}…)
 *       and {@code Retry-After}, as the call itself would most likely have got, so the metrics and the
 *       runbooks read the cause; asked again at most every {@link #ASK_AGAIN_UNANSWERED}.</li>
 * </ul>
 * One extra request per URL an hour while it vouches; the check is made by the caller's thread,
 * one at a time per URL (the others wait for its answer). Each change is said once in the log.
 */
public final class TrackUrlWatch {
    private static final Logger log = LoggerFactory.getLogger(TrackUrlWatch.class);

    /** The detail, and metric status tag, of a call held back because the URL accepted a made-up key. */
    public static final String ACCEPTS_MADE_UP_KEY = "track_url_accepts_made_up_key";

    static final Duration VOUCHED_FOR = Duration.ofHours(1);
    static final Duration ASK_AGAIN_UNANSWERED = Duration.ofSeconds(2);
    static final Duration ASK_AGAIN_ACCEPTED = Duration.ofSeconds(10);

    private enum State { UNCHECKED, VOUCHED, ACCEPTS }

    private final URI url;
    private final Supplier<TrackResult> check;
    private final Clock clock;
    private State state = State.UNCHECKED;
    /** When to ask again: the end of a vouch, or the next try of an unanswered or accepting URL. */
    private Instant askAt = Instant.MIN;
    /** The last check's answer (none yet: null), for the calls held back while it tells nothing, and for the log. */
    private TrackResult last;

    /** @param check the credential check at this URL with a made-up key ({@link TrackClient#checkWithMadeUpCredentials}) */
    public TrackUrlWatch(URI url, Supplier<TrackResult> check, Clock clock) {
        this.url = url;
        this.check = check;
        this.clock = clock;
    }

    /**
     * A watch of this URL that asks with the client's timeouts, through one client of its own (one
     * HTTP client and its thread, however often an outage makes it ask).
     */
    public static TrackUrlWatch of(URI url, Duration connectTimeout, Duration requestTimeout, Clock clock) {
        TrackClient madeUp = TrackClient.http(TrackEndpoint.madeUp(url, connectTimeout, requestTimeout), clock);
        return new TrackUrlWatch(url, () -> madeUp.region().result(), clock);
    }

    /** Takes the start's check at this URL as the first answer (no second request at the start). */
    public synchronized void answered(TrackResult startCheck) {
        apply(startCheck, clock.instant());
    }

    /**
     * The result of a call not to be sent to this URL now, or empty to send it. Asks the URL with
     * a made-up key first when the last answer is due again.
     */
    public synchronized Optional<TrackResult> holdBack(TrackOperation op) {
        Instant now = clock.instant();
        if (!now.isBefore(askAt)) {
            apply(check.get(), now);
        }
        return switch (state) {
            case VOUCHED -> Optional.empty();
            case ACCEPTS -> Optional.of(new TrackResult(op, 0, TrackResult.Kind.UNAUTHORIZED, Optional.empty(), ACCEPTS_MADE_UP_KEY,
                    Duration.ZERO));
            case UNCHECKED -> Optional.of(new TrackResult(op, last.status(), TrackResult.Kind.RETRYABLE, last.retryAfter(), last.detail(),
                    Duration.ZERO));
        };
    }

    private void apply(TrackResult r, Instant now) {
        State was = state;
        if (r.isSuccess()) {
            state = State.ACCEPTS;
            askAt = now.plus(ASK_AGAIN_ACCEPTED);
        } else if (r.status() > 0 && TrackResult.classify(r.status()) != TrackResult.Kind.RETRYABLE) {
            state = State.VOUCHED;
            askAt = now.plus(VOUCHED_FOR);
        } else {
            state = was == State.ACCEPTS ? State.ACCEPTS : State.UNCHECKED; // an accepting URL stays suspect until it refuses
            askAt = now.plus(ASK_AGAIN_UNANSWERED);
        }
        String answer = r.statusTag();
        if (state == State.ACCEPTS && was != State.ACCEPTS) {
            log.error("the Track URL {} answered HTTP {} to a credential check with a made-up key: it does not check Track"
                    + " credentials, so it is not Customer.io's Track API; no suppress or destroy is sent there (each would be"
                    + " recorded SUCCEEDED with nobody erased), its workspaces are paused until it refuses the made-up key", url,
                    r.status());
        } else if (state == State.UNCHECKED && (was != State.UNCHECKED || last == null)) { // once, not every 2 s of an outage
            log.warn("the Track URL {} did not answer a credential check with a made-up key ({}): no suppress or destroy is sent"
                    + " there until it refuses one (asked again every {} s)", url, answer, ASK_AGAIN_UNANSWERED.toSeconds());
        } else if (state == State.VOUCHED && was != State.VOUCHED && last != null) { // not the first answer: a change
            log.info("the Track URL {} refused a made-up key (HTTP {}): calls there go out", url, r.status());
        }
        last = r;
    }
}
