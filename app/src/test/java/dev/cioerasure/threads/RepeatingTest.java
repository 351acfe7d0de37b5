package dev.cioerasure.threads;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.testing.LogCapture;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A task on a fixed-delay schedule that threw once was never run again, without a word: the
 * backlog's gauges kept their last values for good after one out-of-memory error.
 */
class RepeatingTest {
    @Test
    void aTaskThatThrowsIsLoggedInOneLineAMinuteAndRunsAgain() throws Exception {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        AtomicInteger runs = new AtomicInteger();
        try (LogCapture logs = LogCapture.capture()) {
            Repeating.every(timer, "the test's refresh", () -> {
                if (runs.incrementAndGet() <= 20) {
                    throw new IllegalStateException("broker gone");
                }
            }, 0, 10, TimeUnit.MILLISECONDS);
            await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() >= 22);
            assertThat(logs.lines()).filteredOn(l -> l.contains("the test's refresh failed"))
                    .singleElement().satisfies(l -> assertThat(l).contains("broker gone", "runs again at its next time"));
        } finally {
            timer.shutdownNow();
        }
    }

    @Test
    void runningOutOfMemoryGoesToTheThreadsHandlerAsIfTheThreadHadDiedOfItAndTheTaskRunsAgain() throws Exception {
        List<Throwable> handled = new CopyOnWriteArrayList<>();
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "repeating-test");
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((thread, e) -> handled.add(e));
            return t;
        });
        AtomicInteger runs = new AtomicInteger();
        try {
            Repeating.every(timer, "the test's refresh", () -> {
                int run = runs.incrementAndGet();
                if (run == 1) {
                    throw new OutOfMemoryError("Java heap space");
                }
                if (run == 2) {
                    throw new StackOverflowError(); // logged like an exception: the thread did not die of it
                }
            }, 0, 10, TimeUnit.MILLISECONDS);
            await().atMost(Duration.ofSeconds(10)).until(() -> runs.get() >= 4);
            assertThat(handled).singleElement().isInstanceOf(OutOfMemoryError.class);
        } finally {
            timer.shutdownNow();
        }
    }
}
