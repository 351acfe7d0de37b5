package dev.cioerasure.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A stop asked for (SIGTERM, Ctrl-C) while {@code submit} sends: the JVM's shutdown waits, up to
 * {@value #WAIT_SECONDS} s, for the command to stop sending, let Kafka answer for what it sent and
 * record that, and the command's own exit code is then replaced by the signal's (130, 143).
 * Without it, a stopped submit said nothing and recorded nothing, though thousands of its requests
 * were on their way to be erased.
 */
final class SendStop implements AutoCloseable {
    static final long WAIT_SECONDS = 60;

    /** Thrown from a row's handling to stop reading the file at that row. */
    static final class Stopped extends RuntimeException {
        Stopped() {
            super("stop requested", null, false, false);
        }
    }

    private final CountDownLatch done = new CountDownLatch(1);
    private final Thread hook = new Thread(this::onSignal, "submit-stop");
    private volatile boolean requested;

    SendStop() {
        Runtime.getRuntime().addShutdownHook(hook);
    }

    private void onSignal() {
        requested = true;
        try {
            done.await(WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Throws {@link Stopped} once a stop was asked for. */
    void check() {
        if (requested) {
            throw new Stopped();
        }
    }

    /** The command has said and recorded what it sent: the JVM may exit. */
    @Override
    public void close() {
        done.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook is the one waiting for this
        }
    }
}
