package dev.cioerasure.testing;

import dev.cioerasure.customerio.RegionCheck;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.request.Identifier;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Customer.io answering every Track call with one (changeable) HTTP status, counting the calls.
 * A status of {@link #DEFECT} makes the client throw instead: a defect, not an answer.
 */
public class StatusTrack implements TrackClient {
    public static final int DEFECT = -1;
    public final AtomicInteger status = new AtomicInteger(200);
    public final AtomicInteger calls = new AtomicInteger();
    /** The Retry-After of every answer, or null for none. */
    public final java.util.concurrent.atomic.AtomicReference<Duration> retryAfter = new java.util.concurrent.atomic.AtomicReference<>();

    private TrackResult answer(TrackOperation op) {
        calls.incrementAndGet();
        int s = status.get();
        if (s == DEFECT) {
            throw new IllegalStateException("test: a defect in the Track client");
        }
        return new TrackResult(op, s, TrackResult.classify(s), Optional.ofNullable(retryAfter.get()), "http " + s, Duration.ofMillis(1));
    }

    @Override
    public TrackResult suppress(Identifier identifier) {
        return answer(TrackOperation.SUPPRESS);
    }

    @Override
    public TrackResult destroy(Identifier identifier) {
        return answer(TrackOperation.DESTROY);
    }

    @Override
    public RegionCheck region() {
        return new RegionCheck(answer(TrackOperation.REGION), Optional.empty(), Optional.empty());
    }
}
