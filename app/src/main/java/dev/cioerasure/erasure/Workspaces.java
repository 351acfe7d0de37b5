package dev.cioerasure.erasure;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The Customer.io workspaces a worker erases from, in configuration order. Each has its own
 * {@link ErasureExecutor}: its own rate limiter, breaker, outage pause, credential gate and key,
 * so that one workspace's outage or refused key does not hold the others.
 */
public final class Workspaces implements AutoCloseable {
    /**
     * @param verifiable whether an App API key is configured for it (else its completions get an
     *                   UNVERIFIABLE row saying so)
     */
    public record Workspace(String name, ErasureExecutor executor, boolean verifiable) { }

    private final Map<String, Workspace> byName = new LinkedHashMap<>();

    public Workspaces(List<Workspace> workspaces) {
        if (workspaces.isEmpty()) {
            throw new IllegalArgumentException("at least one workspace");
        }
        for (Workspace w : workspaces) {
            if (byName.put(w.name(), w) != null) {
                throw new IllegalArgumentException("workspace " + w.name() + " twice");
            }
        }
    }

    /** The single workspace of the CUSTOMERIO_* variables. */
    public static Workspaces single(String name, ErasureExecutor executor, boolean verifiable) {
        return new Workspaces(List.of(new Workspace(name, executor, verifiable)));
    }

    /** Names in configuration order. */
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    public Workspace get(String name) {
        Workspace w = byName.get(name);
        if (w == null) {
            throw new IllegalArgumentException("no workspace " + name); // requests naming others are rejected before
        }
        return w;
    }

    public List<Workspace> all() {
        return List.copyOf(byName.values());
    }

    /** More than one workspace: names appear in reasons, and a paused workspace does not hold threads. */
    public boolean several() {
        return byName.size() > 1;
    }

    /**
     * The workspaces a request is erased from, in configuration order: those it names, or all of
     * them when it names none; without those in {@code done}.
     */
    public List<String> toDo(List<String> named, Set<String> done) {
        List<String> out = new ArrayList<>();
        for (String n : byName.keySet()) {
            if ((named.isEmpty() || named.contains(n)) && !done.contains(n)) {
                out.add(n);
            }
        }
        return out;
    }

    /** Stops what the executors run on their own (the batch senders). */
    @Override
    public void close() {
        byName.values().forEach(w -> w.executor().close());
    }
}
