package dev.cioerasure.tools;

import dev.cioerasure.cli.Main;
import java.util.List;
import java.util.Map;

/**
 * {@code java -jar cio-erasure-tools.jar <command>}: every command of the production jar, plus
 * {@code demo}, {@code sandbox} and {@code bench}.
 */
public final class ToolsMain {
    private ToolsMain() { }

    public static void main(String[] args) {
        // The embedded broker brings log4j2 along; it only needs to stay quiet, logging goes
        // through SLF4J/Logback.
        if (System.getProperty("log4j2.statusLoggerLevel") == null) {
            System.setProperty("log4j2.statusLoggerLevel", "OFF");
        }
        System.exit(run(Main.defaults(), args));
    }

    /** Runs a command with the given environment (tests). */
    public static int run(Map<String, String> env, String... args) {
        return Main.run(env, List.of(new DemoCommand(), new SandboxCommand(), new BenchCommand()), args);
    }
}
