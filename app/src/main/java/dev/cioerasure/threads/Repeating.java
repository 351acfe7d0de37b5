package dev.cioerasure.threads;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work repeated on a schedule that an error cannot end in silence. A task given to
 * {@link ScheduledExecutorService#scheduleWithFixedDelay} that throws once is never run again,
 * and nothing says so: its gauges keep their last value (a backlog, a clock's skew, the
 * database's reachability) and the alerts built on them stay quiet for good. Here what it throws
 * is logged in one line (at most one a minute) and the task runs again at its next time; running
 * out of memory goes to the thread's uncaught-exception handler, as if the thread had died of it
 * (the worker's prints one line and exits 70), and the task runs again too if that handler returns.
 */
public final class Repeating {
    private static final Logger log = LoggerFactory.getLogger(Repeating.class);

    private Repeating() { }

    /** {@code task} every {@code delay} after the end of the last run, the first after {@code initialDelay}. */
    public static ScheduledFuture<?> every(ScheduledExecutorService executor, String what, Runnable task, long initialDelay, long delay,
                                           TimeUnit unit) {
        return executor.scheduleWithFixedDelay(guarded(what, task), initialDelay, delay, unit);
    }

    /** {@code task}, with what it throws reported instead of ending its schedule. */
    static Runnable guarded(String what, Runnable task) {
        long[] lastLog = {0};
        int[] unsaid = {0};
        return () -> {
            try {
                task.run();
            } catch (OutOfMemoryError e) {
                Thread t = Thread.currentThread();
                t.getUncaughtExceptionHandler().uncaughtException(t, e);
            } catch (RuntimeException | Error e) {
                // some run every 200 ms (the rate budget): one line a minute at most, saying how many failed since
                long now = System.nanoTime();
                if (lastLog[0] == 0 || now - lastLog[0] > java.util.concurrent.TimeUnit.MINUTES.toNanos(1)) {
                    log.error("{} failed ({}){}; it runs again at its next time", what, e.toString(),
                            unsaid[0] == 0 ? "" : " (and " + unsaid[0] + " time(s) since the last line)");
                    lastLog[0] = now;
                    unsaid[0] = 0;
                } else {
                    unsaid[0]++;
                }
            }
        };
    }
}
