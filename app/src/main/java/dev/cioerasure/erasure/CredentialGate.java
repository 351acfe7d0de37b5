package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What happens when Customer.io refuses the credentials (401/403). A rejected key is not the
 * requests' fault, so they must not fail by the thousand: the gate first re-reads the secret
 * once (a rotation may just have happened) and retries; if the refusal persists it closes, every
 * Track call waits, {@code erasure_credentials_rejected} turns 1 for alerting, and one probe
 * call is let through every {@code probeEvery} (or at once when the secret changes) until the
 * credentials work again. The consumer meanwhile pauses through back-pressure.
 */
final class CredentialGate {
    private static final Logger log = LoggerFactory.getLogger(CredentialGate.class);

    private final TrackClient client;
    private final Duration probeEvery;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean probing = new AtomicBoolean();
    private final AtomicLong nextProbeNanos = new AtomicLong();

    /** " of workspace NAME" for log lines, or "" for the single workspace. */
    private final String workspaceLabel;

    CredentialGate(TrackClient client, Duration probeEvery, MeterRegistry meters, String workspaceLabel) {
        this.workspaceLabel = workspaceLabel;
        this.client = client;
        this.probeEvery = probeEvery;
        Gauge.builder(MetricNames.CREDENTIALS_REJECTED, closed, c -> c.get() ? 1 : 0)
                .description("1 while Customer.io rejects the Track credentials and erasures are paused")
                // held strongly: the gauge must read 0 or 1, never NaN once nothing else holds the gate
                .strongReference(true).register(meters);
    }

    /** What a caller may do now: call, call as the probe, or nothing: the gate is closed. */
    enum Turn { CALL, PROBE, CLOSED }

    /**
     * Whether the caller may call now: {@link Turn#PROBE} (which must report through
     * {@link #afterCall}) when the gate is closed and a probe is due and not already out;
     * {@link Turn#CLOSED} when the gate is closed otherwise (a caller that waits looks again later).
     */
    Turn turn() {
        if (!closed.get()) {
            return Turn.CALL;
        }
        if (System.nanoTime() >= nextProbeNanos.get() && probing.compareAndSet(false, true)) {
            client.reloadCredentials();
            return Turn.PROBE;
        }
        return Turn.CLOSED;
    }

    /** A probe that did not get to call (shutdown) frees the probe slot. */
    void abandonProbe(boolean wasProbe) {
        if (wasProbe) {
            probing.set(false);
        }
    }

    /**
     * Reports a call's result. A refusal from an open gate re-reads the secret and asks for one
     * immediate retry; a refusal after that (or from a probe) closes the gate.
     *
     * @return true when the caller should call again (after {@link #turn})
     */
    boolean afterCall(TrackResult r, boolean wasProbe, boolean alreadyReloaded) {
        if (wasProbe) {
            probing.set(false);
        }
        if (r.kind() != TrackResult.Kind.UNAUTHORIZED) {
            if (r.isSuccess() && closed.compareAndSet(true, false)) {
                log.warn("Customer.io accepts the Track credentials{} again; erasures resume", workspaceLabel);
            }
            return false;
        }
        if (!alreadyReloaded && !closed.get()) {
            client.reloadCredentials();
            return true;
        }
        nextProbeNanos.set(System.nanoTime() + probeEvery.toNanos());
        if (closed.compareAndSet(false, true)) {
            if (r.status() == 0) { // not sent: the reason was logged where it was decided (SiteIdGuard, TrackUrlWatch)
                log.error("the Track credentials{} are not used ({}): its erasures are paused until they may be; looking again every {} s",
                        workspaceLabel, r.detail(), probeEvery.toSeconds());
            } else {
                log.error("Customer.io rejects the Track credentials{} (HTTP {}): its erasures are paused until they work."
                        + " Check the site id and Track API key (run `credentials verify`); probing every {} s",
                        workspaceLabel, r.status(), probeEvery.toSeconds());
            }
        }
        return true;
    }
}
