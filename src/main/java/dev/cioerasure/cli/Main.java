package dev.cioerasure.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code java -jar cio-erasure.jar <command>}. */
@Command(name = "cio-erasure",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Queue-driven GDPR/CCPA erasure worker for Customer.io.%n"
                + "Configuration comes from the environment (see config/cio-erasure.env.example).",
        subcommands = {WorkerCommand.class, DemoCommand.class, MigrateCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        return new CommandLine(new Main())
                .setExecutionExceptionHandler(new Errors())
                .execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"cio-erasure " + (v == null ? "dev" : v)};
        }
    }
}
