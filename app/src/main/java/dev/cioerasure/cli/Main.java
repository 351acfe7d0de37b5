package dev.cioerasure.cli;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar cio-erasure.jar <command>}. */
@Command(name = "cio-erasure",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Queue-driven GDPR/CCPA erasure worker for Customer.io.%n"
                + "Configuration comes from the environment (see config/cio-erasure.env.example).",
        subcommands = {WorkerCommand.class, MigrateCommand.class, DlqCommand.class, ParkedCommand.class,
                CredentialsCommand.class, IntakeCommand.class, AuditCommand.class, SubmitCommand.class, CloseCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(defaults(), List.of(), args));
    }

    /**
     * Standard output and error in UTF-8, whatever the locale. Without LANG (a systemd unit, a cron
     * job) Java wrote '?' for every character outside ASCII, so {@code audit report --format csv >
     * proof.csv} changed a {@code requested_by} such as "équipe/42" in the proof. The same streams
     * as the JVM's own otherwise (a 128-byte buffer, flushed at each line).
     */
    private static void utf8Console() {
        System.setOut(new java.io.PrintStream(new java.io.BufferedOutputStream(new StandardOutput(
                new java.io.FileOutputStream(java.io.FileDescriptor.out)), 128), true, java.nio.charset.StandardCharsets.UTF_8));
        System.setErr(new java.io.PrintStream(new java.io.BufferedOutputStream(new java.io.FileOutputStream(java.io.FileDescriptor.err),
                128), true, java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * Sets JVM-wide defaults a command relies on and returns the process's environment (for a
     * process's main only: it replaces standard output and error). The root locale, so numbers,
     * dates and case in what the commands print and store are the same on every machine; UTF-8
     * output ({@link #utf8Console}). Drops pooled HTTP connections before servers commonly drop
     * them (30 s idle), so a call is not sent on a connection the other side is closing; and, the
     * other way round, the intake's and the monitoring port's server keep an idle connection 620 s
     * (the JDK's default: 30 s), longer than load balancers keep theirs to it (60 s is common, some
     * keep 10 minutes): one that sent a request on a connection the intake was closing answered the
     * sender 502, and a webhook that does not retry lost its request ({@code IntakeCommandIT}).
     * At most 200 idle connections are kept (the JDK's {@code maxIdleConnections}); more are closed.
     */
    public static Map<String, String> defaults() {
        Locale.setDefault(Locale.ROOT);
        utf8Console();
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", "20");
        }
        if (System.getProperty("sun.net.httpserver.idleInterval") == null) {
            System.setProperty("sun.net.httpserver.idleInterval", "620");
        }
        return System.getenv();
    }

    private static volatile Map<String, String> environment = System.getenv();
    /** Dev tools: cio-erasure-tools.jar adds them (dev.cioerasure.tools.ToolsMain); this jar only points there. */
    private static final List<String> DEV_TOOLS = List.of("demo", "sandbox", "bench");
    private static final List<String> LOG_FORMATS = List.of("text", "json");
    private static final List<String> LOG_LEVELS = List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF");

    public static int run(String... args) {
        return run(System.getenv(), args);
    }

    /** Runs a command with the given environment instead of the process's (tests, embedding). */
    public static int run(Map<String, String> env, String... args) {
        return run(env, List.of(), args);
    }

    /**
     * Runs a command with extra subcommands (picocli {@code @Command} objects): how the tools jar
     * adds its dev tools without this module knowing them.
     */
    public static int run(Map<String, String> env, List<Object> extraCommands, String... args) {
        environment = env;
        // logback would silently fall back to DEBUG for an unknown level, and find no appender for an unknown format
        for (String problem : new String[] {
                notOneOf("LOG_LEVEL", env.get("LOG_LEVEL"), LOG_LEVELS, v -> v.toUpperCase(Locale.ROOT)),
                notOneOf("LOG_FORMAT", env.get("LOG_FORMAT"), LOG_FORMATS, v -> v)}) {
            if (problem != null) {
                System.err.println("cio-erasure: " + problem);
                return Errors.CONFIG;
            }
        }
        CommandLine cli = new CommandLine(new Main());
        extraCommands.forEach(cli::addSubcommand);
        if (args.length > 0 && DEV_TOOLS.contains(args[0]) && !cli.getSubcommands().containsKey(args[0])) {
            System.err.println("cio-erasure: '" + args[0] + "' is a dev tool, not part of the production jar:"
                    + " run it with java -jar cio-erasure-tools.jar " + args[0]);
            return 2;
        }
        try {
            int exit = cli.setExecutionExceptionHandler(new Errors()).execute(args);
            System.out.flush();
            java.io.IOException lost = StandardOutput.lost();
            if (lost != null && exit != Errors.OUTPUT_LOST) {
                // a command that printed its answer to a full disk has not given it
                System.err.println("cio-erasure: " + Errors.outputLost(lost));
                return exit == 0 ? Errors.OUTPUT_LOST : exit;
            }
            return exit;
        } catch (OutOfMemoryError e) {
            // one line, as for every other failure; what was being read is named by the command, never quoted
            System.err.println(Errors.outOfMemory());
            return Errors.SOFTWARE;
        }
    }

    /** Why a set value is not one of the choices (after normalising), or null when it is fine or unset. */
    private static String notOneOf(String name, String value, List<String> choices, java.util.function.UnaryOperator<String> normal) {
        if (value == null || choices.contains(normal.apply(value.trim()))) {
            return null;
        }
        return name + ": must be one of " + String.join(", ", choices) + " (got a value that is none of them)";
    }

    /** The environment commands read their settings from. */
    public static Map<String, String> environment() {
        return environment;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"cio-erasure " + (v == null ? "dev" : v)};
        }
    }
}
