package dev.cioerasure.threads;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Daemon threads with names that say what they do ({@code audit-writer}, {@code erasure-3}): a
 * thread dump is readable, and no helper thread keeps the JVM alive after the worker stopped.
 */
public final class DaemonThreads {
    private DaemonThreads() { }

    /** Threads named {@code prefix1}, {@code prefix2}, … */
    public static ThreadFactory numbered(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> start(r, prefix + n.incrementAndGet());
    }

    /** Threads that all carry one name. */
    public static ThreadFactory named(String name) {
        return r -> start(r, name);
    }

    /** One daemon thread, not yet started. */
    public static Thread of(Runnable r, String name) {
        return start(r, name);
    }

    private static Thread start(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }
}
