package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class SubjectLanesTest {
    private final SubjectLanes lanes = new SubjectLanes();

    @Test
    void theSameKeyRunsOneAfterAnother() {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Void> firstDone = new CompletableFuture<>();
        lanes.submit("s", () -> {
            events.add("first started");
            return firstDone;
        });
        CompletableFuture<Void> second = lanes.submit("s", () -> {
            events.add("second started");
            return CompletableFuture.completedFuture(null);
        });
        assertThat(events).containsExactly("first started");
        assertThat(second).isNotDone();
        firstDone.complete(null);
        assertThat(second).isDone();
        assertThat(events).containsExactly("first started", "second started");
        assertThat(lanes.activeKeys()).isZero();
    }

    @Test
    void otherKeysDoNotWait() {
        lanes.submit("a", CompletableFuture::new);
        CompletableFuture<Void> b = lanes.submit("b", () -> CompletableFuture.completedFuture(null));
        assertThat(b).isDone();
    }

    @Test
    void aFailedTaskDoesNotBlockItsLane() {
        CompletableFuture<Void> failed = lanes.submit("s", () -> CompletableFuture.failedFuture(new IllegalStateException("x")));
        CompletableFuture<Void> next = lanes.submit("s", () -> CompletableFuture.completedFuture(null));
        assertThat(failed).isCompletedExceptionally();
        assertThat(next).isDone().isNotCompletedExceptionally();
    }
}
