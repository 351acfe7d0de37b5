package dev.cioerasure.testing;

import dev.cioerasure.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** Runs a command of the real CLI in-process with a given environment, capturing what it prints. */
public final class Cli {
    private Cli() { }

    /** Exit code, standard output and standard error of one command. */
    public record Run(int exit, String out, String err) { }

    /** A command line: the production one ({@link Main}) or the tools jar's. */
    @FunctionalInterface
    public interface Entry {
        int run(Map<String, String> env, String... args);
    }

    public static Run run(Map<String, String> env, String... args) {
        return run(Main::run, env, args);
    }

    /**
     * Prints a test's figures to standard output. Synchronized with {@link #run} (test classes run
     * side by side): a figure never lands inside the output a command run is capturing.
     */
    public static synchronized void report(String format, Object... args) {
        System.out.printf(format, args);
    }

    /** {@link #run(Map, String...)} with {@code input} as standard input. */
    public static synchronized Run runWithInput(Map<String, String> env, String input, String... args) {
        java.io.InputStream in = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
            return run(Main::run, env, args);
        } finally {
            System.setIn(in);
        }
    }

    public static synchronized Run run(Entry entry, Map<String, String> env, String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = entry.run(env, args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }
}
