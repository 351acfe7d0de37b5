package dev.cioerasure.cli;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.metrics.HttpServerTimeouts;
import dev.cioerasure.worker.WorkerRuntime;
import java.time.Clock;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
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
        HttpServerTimeouts.install(); // before any HTTP server is made: it reads them once
        Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.KAFKA, SettingsLoader.Part.DATABASE,
                SettingsLoader.Part.CUSTOMERIO, SettingsLoader.Part.AUDIT, SettingsLoader.Part.WORKER));
        log.info(s.describe());
        WorkerRuntime runtime;
        try {
            runtime = WorkerRuntime.start(s, Clock.systemUTC());
        } catch (IllegalStateException e) {
            throw new Errors.UserError(e.getMessage(), Errors.CONFIG);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean shutdownRequested = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            shutdownRequested.set(true);
            log.info("shutdown requested");
            runtime.close();
            stopped.countDown();
            log.info("stopped cleanly");
            // A JVM ended by SIGTERM exits 143 after its hooks; a clean, complete stop is exit 0.
            Runtime.getRuntime().halt(0);
        }, "shutdown"));
        runtime.join();
        if (!shutdownRequested.get()) {
            runtime.close();
            log.error("the consumer loop ended unexpectedly; exiting so the supervisor restarts the worker");
            return Errors.SOFTWARE;
        }
        stopped.await();
        return 0;
    }
}
