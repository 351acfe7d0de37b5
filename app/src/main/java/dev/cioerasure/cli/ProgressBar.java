package dev.cioerasure.cli;

import java.io.PrintStream;
import java.util.function.LongSupplier;

/**
 * Progress of long work on stderr, with rate and time left: redrawn in place on a terminal at
 * most five times a second; otherwise one line per 10 % (and at the end), so a log stays short.
 * Nothing is drawn during the first {@code quietNanos}: work that ends sooner says nothing.
 */
final class ProgressBar {
    private static final long REDRAW_NANOS = 200_000_000L;
    private final long total;
    private final String verb;
    private final long quietNanos;
    private final boolean tty;
    private final PrintStream err;
    private final LongSupplier clock;
    private final long started;
    private long lastDraw;
    private long lastTenth = -1;
    private int lines;

    /** @param verb what happened to the items, e.g. "acknowledged" */
    ProgressBar(long total, String verb, long quietNanos) {
        this(total, verb, quietNanos, System.console() != null, System.err, System::nanoTime);
    }

    ProgressBar(long total, String verb, long quietNanos, boolean tty, PrintStream err, LongSupplier nanoClock) {
        this.total = Math.max(1, total);
        this.verb = verb;
        this.quietNanos = quietNanos;
        this.tty = tty;
        this.err = err;
        this.clock = nanoClock;
        this.started = nanoClock.getAsLong();
        this.lastDraw = started - REDRAW_NANOS;
    }

    void update(long done) {
        long now = clock.getAsLong();
        if (now - started < quietNanos) {
            return;
        }
        if (tty) {
            if (now - lastDraw >= REDRAW_NANOS || done == total) {
                lastDraw = now;
                lines++;
                err.print("\r" + line(done, now) + "   ");
            }
        } else {
            long tenth = Math.min(10, done * 10 / total);
            if (tenth != lastTenth) {
                lastTenth = tenth;
                lines++;
                err.println(line(done, now));
            }
        }
    }

    String line(long done, long now) {
        int width = 30;
        int filled = (int) Math.min(width, done * width / total);
        double secs = Math.max(1e-3, (now - started) / 1e9);
        double rate = done / secs;
        String eta = done >= total ? "done" : done == 0 || rate <= 0 ? "ETA -" : "ETA " + human((long) ((total - done) / rate));
        return String.format("[%s%s] %d/%d %s, %.0f/s, %s", "#".repeat(filled), " ".repeat(width - filled), done, total, verb, rate, eta);
    }

    static String human(long seconds) {
        return seconds >= 3600 ? seconds / 3600 + "h" + String.format("%02dm", seconds % 3600 / 60)
                : seconds >= 60 ? seconds / 60 + "m" + String.format("%02ds", seconds % 60) : seconds + "s";
    }

    /** How many times the bar was drawn (for tests). */
    int draws() {
        return lines;
    }

    /** Ends the line a terminal's bar was drawn on. */
    void done() {
        if (tty && lines > 0) {
            err.println();
        }
    }
}
