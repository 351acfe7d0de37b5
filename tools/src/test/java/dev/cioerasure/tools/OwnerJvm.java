package dev.cioerasure.tools;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A JVM of its own running a test class's {@code main} on the test classpath, for tests of what
 * happens to the processes it starts when it goes (a broker, bench workers).
 */
public final class OwnerJvm {
    private OwnerJvm() { }

    /** The JVM, and the first line it printed that starts with the awaited prefix (null if it ended first). */
    public record Started(Process process, String line) { }

    /** For the owner's {@code main}: says what the test awaits, then waits to be stopped. */
    public static void announceAndWait(String line) throws InterruptedException {
        System.out.println(line);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    public static Started start(Class<?> main, String prefix) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), main.getName())
                .redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        while (line != null && !line.startsWith(prefix)) {
            line = out.readLine();
        }
        return new Started(p, line);
    }
}
