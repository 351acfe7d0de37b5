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
                CredentialsCommand.class, IntakeCommand.class, AuditCommand.class, SubmitCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(defaults(), List.of(), args));
    }

    /**
     * Sets JVM-wide defaults a command relies on and returns the process's environment. Drops
     * pooled HTTP connections before servers commonly drop them (30 s idle), so a call is not
     * sent on a connection the other side is closing.
     */
    public static Map<String, String> defaults() {
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", "20");
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
        String level = env.get("LOG_LEVEL");
        if (level != null && !LOG_LEVELS.contains(level.trim().toUpperCase(Locale.ROOT))) {
            // logback would silently fall back to DEBUG for an unknown level
            System.err.println("cio-erasure: LOG_LEVEL: must be one of " + String.join(", ", LOG_LEVELS)
                    + " (got a value that is none of them)");
            return Errors.CONFIG;
        }
        String format = env.get("LOG_FORMAT");
        if (format != null && !LOG_FORMATS.contains(format.trim())) {
            System.err.println("cio-erasure: LOG_FORMAT: must be one of " + String.join(", ", LOG_FORMATS)
                    + " (got a value that is none of them)");
            return Errors.CONFIG;
        }
        CommandLine cli = new CommandLine(new Main());
        extraCommands.forEach(cli::addSubcommand);
        if (args.length > 0 && DEV_TOOLS.contains(args[0]) && !cli.getSubcommands().containsKey(args[0])) {
            System.err.println("cio-erasure: '" + args[0] + "' is a dev tool, not part of the production jar:"
                    + " run it with java -jar cio-erasure-tools.jar " + args[0]);
            return 2;
        }
        return cli.setExecutionExceptionHandler(new Errors()).execute(args);
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
