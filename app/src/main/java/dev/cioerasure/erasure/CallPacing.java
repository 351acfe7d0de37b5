package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackResult;

/** How each Track call is paced: waited for before it starts, told how it ended. */
interface CallPacing {

    /**
     * Waits until the call may start.
     *
     * @throws java.util.concurrent.CancellationException when interrupted (shutdown) while waiting
     */
    void beforeCall();

    /** The call ended with this result (a status, or none: timeout, I/O error). */
    void afterCall(TrackResult r);

    /** The call ended with an exception: no response is known. */
    void callFailed();

    /** No pacing per call: the client paces its own requests ({@link BatchingTrack}: a batch carries many calls). */
    CallPacing BY_THE_CLIENT = new CallPacing() {
        @Override
        public void beforeCall() { }

        @Override
        public void afterCall(TrackResult r) { }

        @Override
        public void callFailed() { }
    };
}
