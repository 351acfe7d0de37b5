package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.security.NoSuchAlgorithmException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ErrorsTest {
    /**
     * Out of memory inside a JDK factory comes wrapped: submit in a 12 MB heap once printed
     * "failed: java.lang.IllegalStateException: java.security.NoSuchAlgorithmException: Error
     * constructing implementation" (ProductionJarIT, in CI) instead of the one out-of-memory line.
     */
    @Test
    void anOutOfMemoryErrorWrappedInAnotherIsTheOutOfMemoryLine() {
        StringWriter err = new StringWriter();
        CommandLine cmd = new CommandLine(new Main()).setErr(new PrintWriter(err, true));
        Exception wrapped = new IllegalStateException(new NoSuchAlgorithmException("Error constructing implementation",
                new OutOfMemoryError("Java heap space")));
        assertThat(new Errors().handleExecutionException(wrapped, cmd, null)).isEqualTo(Errors.SOFTWARE);
        assertThat(err.toString().strip()).matches("cio-erasure: out of memory \\(this JVM may use at most \\d+ MB\\): give it more with java -Xmx…");
        StringWriter other = new StringWriter();
        cmd.setErr(new PrintWriter(other, true));
        assertThat(new Errors().handleExecutionException(new IllegalStateException("broken"), cmd, null)).isEqualTo(Errors.SOFTWARE);
        assertThat(other.toString().strip()).isEqualTo("cio-erasure: failed: java.lang.IllegalStateException: broken");
    }
}
