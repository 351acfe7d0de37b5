package dev.cioerasure.tools.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The worker as it runs in production: its own JVM with a small fixed heap, started from the
 * same jar. Sampled every 500 ms for heap (from its /metrics) and RSS (from /proc), so peak
 * memory and CPU time can be reported for the worker alone.
 */
final class ChildWorker implements AutoCloseable {
    private static final Pattern HEAP = Pattern.compile("(?m)^jvm_memory_used_bytes\\{[^}]*area=\"heap\"[^}]*} ([0-9.eE+-]+)");

    /** Workers started and not yet stopped on purpose: one that exits by itself fails the run. */
    private static final java.util.Set<ChildWorker> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        // A bench stopped early (Ctrl-C, kill) must not leave its workers behind: a worker that cannot
        // reach Kafka or PostgreSQL waits for them, as it should in production, and would take CPU
        // from every later run. (kill -9 of the bench runs no hook; then they must be stopped by hand.)
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(w -> w.process.destroyForcibly()),
                "bench-stop-workers"));
    }

    private final Process process;
    private final Path log;
    private final int metricsPort;
    private final AtomicLong peakHeap = new AtomicLong();
    private final AtomicLong peakRssKb = new AtomicLong();
    private final AtomicLong samples = new AtomicLong();
    private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "bench-sampler");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient http = HttpClient.newHttpClient();

    ChildWorker(Map<String, String> env, String heap, int metricsPort, Path log) throws IOException {
        this.metricsPort = metricsPort;
        this.log = log;
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("java.class.path");
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(javaBin, "-Xmx" + heap, "-Xms" + heap));
        String extra = System.getenv("BENCH_WORKER_JAVA_OPTS"); // e.g. a JFR recording when profiling
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(java.util.List.of(extra.trim().split("\\s+")));
        }
        cmd.addAll(java.util.List.of("-cp", cp, "dev.cioerasure.cli.Main", "worker"));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        pb.environment().put("METRICS_PORT", Integer.toString(metricsPort));
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())); // a restart under the same id adds to its log
        this.process = pb.start();
        RUNNING.add(this);
        sampler.scheduleAtFixedRate(this::sample, 500, 500, TimeUnit.MILLISECONDS);
    }

    private void sample() {
        readRss();
        // A scrape of the whole registry costs the worker a few ms of CPU: every 5 s (Prometheus's
        // default is 15 s) keeps it out of the CPU per erasure measured, at the price of a coarser peak.
        if (samples.getAndIncrement() % 10 == 0) {
            readHeap();
        }
    }

    private void readRss() {
        try {
            String status = Files.readString(Path.of("/proc", Long.toString(process.pid()), "status"));
            Matcher m = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(status);
            if (m.find()) {
                peakRssKb.accumulateAndGet(Long.parseLong(m.group(1)), Math::max);
            }
        } catch (IOException | RuntimeException ignored) {
            // not on Linux, or the process is gone
        }
    }

    private void readHeap() {
        try {
            String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString()).body();
            Matcher m = HEAP.matcher(body);
            double heap = 0;
            while (m.find()) {
                heap += Double.parseDouble(m.group(1));
            }
            peakHeap.accumulateAndGet((long) heap, Math::max);
        } catch (IOException | RuntimeException ignored) {
            // not up yet
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Fails when a worker started by this run has exited without being stopped (a refused
     * configuration, a crash), with its exit code and the end of its log: a bench must not wait
     * for a worker that is gone.
     */
    static void checkAlive() {
        for (ChildWorker w : RUNNING) {
            if (!w.process.isAlive()) {
                RUNNING.remove(w);
                String tail;
                try {
                    java.util.List<String> lines = Files.readAllLines(w.log);
                    tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
                } catch (IOException e) {
                    tail = "(its log " + w.log + " cannot be read)";
                }
                throw new IllegalStateException("a worker exited by itself with code " + w.process.exitValue() + "; the end of "
                        + w.log + ":\n" + tail);
            }
        }
    }

    /** CPU time the worker JVM has used so far (user + system). */
    Duration cpu() {
        return process.info().totalCpuDuration().orElse(Duration.ZERO);
    }

    /**
     * CPU time of the JVM's JIT compiler threads (Linux; zero elsewhere): on a run of a minute or
     * two the warm-up compiles cost as much as the work, so the report shows them apart.
     */
    Duration jitCpu() {
        long ticks = 0;
        try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    if (Files.readString(t.resolve("comm")).contains("CompilerThre")) {
                        String stat = Files.readString(t.resolve("stat"));
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14 and 15)
                    }
                } catch (IOException | RuntimeException gone) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException | RuntimeException notLinux) {
            return Duration.ZERO;
        }
        return Duration.ofMillis(ticks * 10); // USER_HZ is 100 on Linux
    }

    long peakHeapBytes() {
        return peakHeap.get();
    }

    long pid() {
        return process.pid();
    }

    long peakRssBytes() {
        return peakRssKb.get() * 1024;
    }

    /** kill -9: no shutdown hook, no leaving the group, no giving back the rate lease. */
    void kill() throws InterruptedException {
        RUNNING.remove(this);
        sampler.shutdownNow();
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        RUNNING.remove(this);
        sampler.shutdownNow();
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
