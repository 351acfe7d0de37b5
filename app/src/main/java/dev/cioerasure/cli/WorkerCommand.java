package dev.cioerasure.cli;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.metrics.HttpServerLimits;
import dev.cioerasure.worker.WorkerRuntime;
import java.time.Clock;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;

@Command(name = "worker", mixinStandardHelpOptions = true,
        description = {"Consume deletion requests and erase them in Customer.io (suppress, then destroy).",
                "Records every outcome in the audit table. Serves /metrics, /health/live and /health/ready on METRICS_PORT."
                        + " SIGTERM stops it gracefully (exit 0)."})
final class WorkerCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(WorkerCommand.class);

    @Override
    public Integer call() throws Exception {
        HttpServerLimits.install(); // before any HTTP server is made: it reads them once
        // Out of memory in a thread of the worker's own: one line and exit 70 for the supervisor to
        // restart it, rather than running on with a thread lost. (The image no longer gives the worker
        // -XX:+ExitOnOutOfMemoryError: with it, a record that expands beyond the heap stopped every
        // worker of the group at every start; the consumer loop now rejects such a record.)
        Thread.setDefaultUncaughtExceptionHandler(lostThreads(System.err, code -> Runtime.getRuntime().halt(code)));
        Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.KAFKA, SettingsLoader.Part.DATABASE,
                SettingsLoader.Part.CUSTOMERIO, SettingsLoader.Part.AUDIT, SettingsLoader.Part.WORKER));
        // The hook first: a SIGTERM during start-up (up to 10 s waiting for Kafka, or a database
        // that hangs) is a clean stop too. Before the consumer loop starts no record has been
        // taken, so there is nothing to finish: exit 0 at once. Registered before the configuration
        // line, the first sign of life, so that a SIGTERM sent on seeing it finds the hook.
        CleanStop hook = new CleanStop(() -> {
            log.info("shutdown requested");
            log.info("stopped during start-up: no record had been taken");
        });
        log.info(s.describe());
        s.plainHttpWarnings().forEach(log::warn);
        WorkerRuntime runtime;
        try {
            runtime = WorkerRuntime.prepare(s, Clock.systemUTC());
        } catch (RuntimeException | java.io.IOException e) {
            hook.failed(); // the exit that follows keeps this one's code (78, 69)
            if (e instanceof IllegalStateException) {
                throw new Errors.UserError(e.getMessage(), Errors.CONFIG);
            }
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        boolean started = hook.start(runtime::startConsuming, () -> {
            log.info("shutdown requested");
            runtime.close();
            stopped.countDown();
            log.info("stopped cleanly");
        });
        if (!started) {
            stopped.await(); // the hook halts the JVM with exit 0; never returns
        }
        runtime.join();
        if (hook.endedByItself()) {
            runtime.close();
            throw whyTheLoopEnded(runtime.worker().failure().orElse(null), s);
        }
        stopped.await();
        return 0;
    }

    /**
     * What happens to an error no thread of the worker caught: out of memory, one line on
     * {@code err} and {@code halt} with 70; anything else is logged in one line (no stack trace).
     */
    static Thread.UncaughtExceptionHandler lostThreads(java.io.PrintStream err, java.util.function.IntConsumer halt) {
        return (thread, e) -> {
            if (e instanceof OutOfMemoryError) {
                err.println(Errors.outOfMemory() + " (thread " + thread.getName() + "); exiting so that the supervisor restarts the worker");
                halt.accept(Errors.SOFTWARE);
                return;
            }
            log.error("thread {} stopped by an unexpected error: {}", thread.getName(), e.toString());
        };
    }

    /**
     * The one line and exit code for a consumer loop that ended without being asked to. Another
     * worker with the same WORKER_INSTANCE_ID (a static group member) fences this one: a
     * configuration error, since the two would take each other's place for as long as both run.
     * So is a refusal by the cluster's authorizer (an ACL withdrawn while the worker ran).
     */
    static Errors.UserError whyTheLoopEnded(RuntimeException cause, Settings s) {
        if (cause instanceof org.apache.kafka.common.errors.FencedInstanceIdException) {
            return new Errors.UserError("another worker joined consumer group " + s.kafka().groupId() + " with WORKER_INSTANCE_ID '"
                    + s.worker().instanceId() + "' and took this one's place: give every instance its own WORKER_INSTANCE_ID"
                    + " (unset, it is hostname-pid)", Errors.CONFIG);
        }
        if (cause instanceof dev.cioerasure.worker.InstanceIdRelease.Held) {
            return new Errors.UserError(cause.getMessage(), Errors.CONFIG);
        }
        if (cause instanceof org.apache.kafka.common.errors.UnreleasedInstanceIdException) {
            // taken between the wait and the join (the consumer protocol refuses the newcomer, where the classic one fences the other)
            return new Errors.UserError(dev.cioerasure.worker.InstanceIdRelease.heldMessage(s.kafka().groupId(), s.worker().instanceId())
                    + ": give every instance its own WORKER_INSTANCE_ID, or start this one again after that time", Errors.CONFIG);
        }
        if (cause instanceof org.apache.kafka.common.errors.AuthorizationException) {
            // an ACL withdrawn while the worker ran: restarting does not mend it (it was 70, "unexpectedly")
            return new Errors.UserError("the cluster at " + s.kafka().bootstrapServers() + " refuses this worker what it needs ("
                    + cause + "): the worker principal needs Read on the request, retry and verification topics and on group "
                    + s.kafka().groupId() + ", Write on the retry, DLQ, verification and outcomes topics (docs/operations.md, Kafka topics)",
                    Errors.CONFIG);
        }
        if (cause instanceof dev.cioerasure.worker.ErasureWorker.OutOfMemoryReading) {
            // it was a stack trace ("Exception in thread erasure-consumer") and "ended unexpectedly (no error)"
            return new Errors.UserError("the worker ran " + cause.getMessage() + ": give it a larger heap (JAVA_OPTS, -Xmx;"
                    + " docs/operations.md, \"A record larger than the heap\")", Errors.SOFTWARE);
        }
        return new Errors.UserError("the consumer loop ended unexpectedly (" + (cause == null ? "no error" : cause.toString())
                + "); exiting so that the supervisor restarts the worker", Errors.SOFTWARE);
    }
}
