package dev.cioerasure.cli;

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
        // The embedded broker (demo, bench) brings log4j2 along; it only needs to stay quiet,
        // logging goes through SLF4J/Logback.
        if (System.getProperty("log4j2.statusLoggerLevel") == null) {
            System.setProperty("log4j2.statusLoggerLevel", "OFF");
        }
        // Drop pooled HTTP connections before servers commonly drop them (30 s idle), so a call
        // is not sent on a connection the other side is closing.
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", "20");
        }
        System.exit(run(args));
    }

    private static volatile Map<String, String> environment = System.getenv();
    /** Dev tools, present only in cio-erasure-tools.jar (and on the test classpath). */
    private static final java.util.List<String> TOOLS = java.util.List.of("dev.cioerasure.cli.DemoCommand",
            "dev.cioerasure.cli.SandboxCommand", "dev.cioerasure.cli.BenchCommand");
    private static final java.util.List<String> LOG_LEVELS = java.util.List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF");

    public static int run(String... args) {
        return run(System.getenv(), args);
    }

    /** Runs a command with the given environment instead of the process's (tests, embedding). */
    public static int run(Map<String, String> env, String... args) {
        environment = env;
        String level = env.get("LOG_LEVEL");
        if (level != null && !LOG_LEVELS.contains(level.trim().toUpperCase(java.util.Locale.ROOT))) {
            // logback would silently fall back to DEBUG for an unknown level
            System.err.println("cio-erasure: LOG_LEVEL: must be one of " + String.join(", ", LOG_LEVELS)
                    + " (got a value that is none of them)");
            return Errors.CONFIG;
        }
        CommandLine cli = new CommandLine(new Main());
        for (String tool : TOOLS) {
            try {
                cli.addSubcommand(CommandLine.defaultFactory().create(Class.forName(tool)));
            } catch (ClassNotFoundException e) {
                // the production jar: the dev tools live in cio-erasure-tools.jar
                String name = tool.substring(tool.lastIndexOf('.') + 1).replace("Command", "").toLowerCase(java.util.Locale.ROOT);
                if (args.length > 0 && args[0].equals(name)) {
                    System.err.println("cio-erasure: '" + name + "' is a dev tool, not part of the production jar:"
                            + " run it with java -jar cio-erasure-tools.jar " + name);
                    return 2;
                }
            } catch (Exception e) {
                throw new IllegalStateException("cannot load " + tool, e);
            }
        }
        return cli.setExecutionExceptionHandler(new Errors()).execute(args);
    }

    /** The environment commands read their settings from. */
    static Map<String, String> environment() {
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
