package dev.cioerasure.worker;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Runs tasks one after another per key and concurrently across keys: two requests for the same
 * subject never run at once (the second starts when the first's audit rows are durable, so it
 * sees them), while different subjects proceed in parallel.
 */
final class SubjectLanes {
    private final Map<String, CompletableFuture<Void>> tails = new ConcurrentHashMap<>();

    CompletableFuture<Void> submit(String key, Supplier<CompletableFuture<Void>> task) {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> previous = tails.put(key, mine);
        CompletableFuture<Void> start = previous == null ? CompletableFuture.completedFuture(null) : previous;
        start.handle((v, e) -> null)
                .thenCompose(v -> {
                    try {
                        return task.get();
                    } catch (RuntimeException e) {
                        return CompletableFuture.failedFuture(e);
                    }
                })
                .whenComplete((v, e) -> {
                    tails.remove(key, mine);
                    if (e != null) {
                        mine.completeExceptionally(e);
                    } else {
                        mine.complete(null);
                    }
                });
        return mine;
    }

    int activeKeys() {
        return tails.size();
    }
}
