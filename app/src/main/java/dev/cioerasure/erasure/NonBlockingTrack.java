package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.request.Identifier;
import java.util.concurrent.CompletableFuture;

/**
 * A Track client whose calls are answered later without a thread waiting for each
 * ({@link BatchingTrack}: the answer comes with its batch's). It paces its own requests.
 */
interface NonBlockingTrack {
    /** One call; the future fails with a {@link java.util.concurrent.CancellationException} when the client is closed. */
    CompletableFuture<TrackResult> send(TrackOperation op, Identifier identifier);
}
