package dev.cioerasure.cli;

/**
 * The shutdown hook of a long-running command (worker, intake), registered before its start-up.
 * SIGTERM before the work runs calls {@code beforeStart}, once it runs the work's stop; either way
 * the JVM then halts with exit 0 (one ended by a signal exits 143 after its hooks). An exit the
 * command makes itself after a failure ({@link #failed()}) keeps its own code: the hook then does
 * nothing.
 */
final class CleanStop {
    private final Object lock = new Object();
    private final Runnable beforeStart;
    private Runnable stopWork;
    private boolean requested;
    private boolean failed;

    CleanStop(Runnable beforeStart) {
        this.beforeStart = beforeStart;
        Runtime.getRuntime().addShutdownHook(new Thread(this::onSignal, "shutdown"));
    }

    private void onSignal() {
        Runnable stop;
        synchronized (lock) {
            if (failed) {
                return;
            }
            requested = true;
            stop = stopWork;
        }
        (stop == null ? beforeStart : stop).run();
        Runtime.getRuntime().halt(0);
    }

    /**
     * Runs {@code start} (quick: it is under the hook's lock) unless a stop came first, and from
     * then on stops with {@code stop}. False when a stop came first: nothing started, and the hook
     * is halting the JVM.
     */
    boolean start(Runnable start, Runnable stop) {
        synchronized (lock) {
            if (requested) {
                return false;
            }
            start.run();
            stopWork = stop;
            return true;
        }
    }

    /** The exit that follows is a failure's: the hook leaves its code alone. */
    void failed() {
        synchronized (lock) {
            failed = true;
        }
    }

    /** The work ended: true, and counted {@link #failed()}, when no stop was requested (it ended by itself). */
    boolean endedByItself() {
        synchronized (lock) {
            failed |= !requested;
            return failed;
        }
    }
}
