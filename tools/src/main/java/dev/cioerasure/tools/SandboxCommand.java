package dev.cioerasure.tools;

import dev.cioerasure.cli.Errors;
import dev.cioerasure.cli.Main;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.testkit.sandbox.TrackSandbox;
import java.net.InetSocketAddress;
import java.util.EnumSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "sandbox", mixinStandardHelpOptions = true,
        description = {"Run a local stand-in for Customer.io's Track API (suppress, destroy, region).",
                "For trying the worker without a real workspace (docker compose uses it). Accepts"
                        + " CUSTOMERIO_SITE_ID/CUSTOMERIO_TRACK_API_KEY as its only valid credentials; answers 429 with"
                        + " Retry-After past --limit calls per second, counted in a strict sliding window unless --limit-model says otherwise."})
final class SandboxCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "8080", description = "Port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = "0.0.0.0", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String bind;

    @Option(names = "--latency-ms", defaultValue = "50", description = "Latency of every call (default: ${DEFAULT-VALUE}).")
    int latencyMs;

    @Option(names = "--limit", defaultValue = "100", description = "Calls per second before 429 (0 = unlimited; default: ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--error-rate", defaultValue = "0", description = "Share of calls answered 503, 0..1 (default: ${DEFAULT-VALUE}).")
    double errorRate;

    @Option(names = "--limit-model", defaultValue = "sliding-window",
            description = "How --limit is counted: sliding-window (default: a call that finds --limit calls accepted in the second"
                    + " before it gets 429, the strictest count a server may make) or token-bucket (lenient: forgives a burst).")
    String limitModel;

    @Override
    public Integer call() throws Exception {
        if (errorRate < 0 || errorRate > 1 || limit < 0 || latencyMs < 0) {
            throw new Errors.UserError("--error-rate must be 0..1; --limit and --latency-ms must not be negative", 2);
        }
        if (port < 0 || port > 65_535) {
            // was exit 70 and "failed: java.lang.IllegalArgumentException: port out of range:99999"
            throw new Errors.UserError("--port must be 0..65535 (0: any free port)", 2);
        }
        TrackSandbox.Limit model = switch (limitModel) {
            case "sliding-window" -> TrackSandbox.Limit.SLIDING_WINDOW;
            case "token-bucket" -> TrackSandbox.Limit.TOKEN_BUCKET;
            default -> throw new Errors.UserError("--limit-model must be sliding-window or token-bucket", 2);
        };
        Settings.CustomerIo c = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.CUSTOMERIO)).customerIo();
        TrackSandbox sandbox;
        try {
            sandbox = new TrackSandbox(new TrackSandbox.Options(c.siteId(), c.apiKey().reveal(), latencyMs, limit, errorRate, false,
                    model), new InetSocketAddress(bind, port));
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            // a busy port was exit 70, "failed: java.net.BindException: Address already in use", where the product's servers say 78
            throw dev.cioerasure.preflight.Preflight.port("--port", port, e);
        }
        System.out.printf("Customer.io sandbox on %s:%d (latency %d ms, limit %s calls/s%s, error rate %.2f)%n", bind, sandbox.port(),
                latencyMs, limit == 0 ? "no" : Integer.toString(limit), limit == 0 ? "" : " counted as a " + limitModel, errorRate);
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            sandbox.close();
            stop.countDown();
            Runtime.getRuntime().halt(0);
        }));
        stop.await();
        return 0;
    }
}
