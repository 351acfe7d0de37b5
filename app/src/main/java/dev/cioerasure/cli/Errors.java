package dev.cioerasure.cli;

import dev.cioerasure.config.ConfigException;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.preflight.SchemaAccess;
import dev.cioerasure.preflight.ServiceProblem;
import picocli.CommandLine;

/** Prints configuration and usage errors plainly (no stack trace) with a meaningful exit code. */
public final class Errors implements CommandLine.IExecutionExceptionHandler {
    /** sysexits.h EX_CONFIG. */
    public static final int CONFIG = 78;
    /** sysexits.h EX_UNAVAILABLE: a service (Kafka, PostgreSQL) does not answer. */
    public static final int UNAVAILABLE = 69;
    /** sysexits.h EX_SOFTWARE. */
    public static final int SOFTWARE = 70;
    /** sysexits.h EX_IOERR: standard output could not be written (a full disk, not a reader gone): what was printed is incomplete. */
    public static final int OUTPUT_LOST = 74;

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
        if (ex instanceof ReaderGone) {
            return 0; // the reader of the output has what it wanted (| head): nothing to say, and nowhere to say it
        }
        if (ex instanceof ConfigException) {
            cmd.getErr().println("cio-erasure: " + ex.getMessage());
            return CONFIG;
        }
        if (ex instanceof ServiceProblem p) {
            cmd.getErr().println("cio-erasure: " + p.getMessage());
            return p.kind() == ServiceProblem.Kind.CONFIGURATION ? CONFIG : UNAVAILABLE;
        }
        if (ex instanceof UserError) {
            cmd.getErr().println("cio-erasure: " + ex.getMessage());
            return ((UserError) ex).exitCode();
        }
        ServiceProblem refused = SchemaAccess.explain(ex, null, null);
        if (refused != null) {
            // a grant or a table the up-front check did not cover (audit verify as the writer role, say)
            cmd.getErr().println("cio-erasure: " + refused.getMessage());
            return CONFIG;
        }
        if (Preflight.cause(ex, OutOfMemoryError.class) != null) {
            // a JDK class that ran out while it was made may wrap the error (MessageDigest.getInstance
            // in a 12 MB heap: "NoSuchAlgorithmException: Error constructing implementation")
            cmd.getErr().println(outOfMemory());
            return SOFTWARE;
        }
        cmd.getErr().println("cio-erasure: failed: " + ex);
        return SOFTWARE;
    }

    /** The one line for a JVM out of memory; what was being read is named by the command, never quoted. */
    static String outOfMemory() {
        return "cio-erasure: out of memory (this JVM may use at most " + Runtime.getRuntime().maxMemory() / (1024 * 1024)
                + " MB): give it more with java -Xmx…";
    }

    /** An error the user can fix, with the message to show and the exit code to use. */
    public static final class UserError extends RuntimeException {
        private final int exitCode;

        public UserError(String message, int exitCode) {
            super(message);
            this.exitCode = exitCode;
        }

        int exitCode() {
            return exitCode;
        }
    }

    /**
     * Why a file named on the command line cannot be written (a bad argument, exit 2), or null when
     * it may be: found only when writing, after the work, it was an exit 70 and a
     * NoSuchFileException or FileSystemException.
     */
    static String unwritableFile(java.nio.file.Path target) {
        if (java.nio.file.Files.isDirectory(target)) {
            return "is a directory, not a file";
        }
        java.nio.file.Path dir = target.toAbsolutePath().getParent();
        if (dir == null || !java.nio.file.Files.isDirectory(dir)) {
            return "its directory " + dir + " does not exist";
        }
        if (!java.nio.file.Files.isWritable(dir)) {
            return "its directory " + dir + " is not writable by this user";
        }
        return null;
    }

    /** Why a directory to write files into cannot be used, or null when it can (a missing one is made). */
    static String unwritableDirectory(java.nio.file.Path dir) {
        if (java.nio.file.Files.exists(dir) && !java.nio.file.Files.isDirectory(dir)) {
            return "is a file, not a directory";
        }
        if (java.nio.file.Files.isDirectory(dir) && !java.nio.file.Files.isWritable(dir)) {
            return "not writable by this user";
        }
        return null;
    }

    /**
     * Why a file named on the command line cannot be read (a bad argument, exit 2), or null when it
     * can; {@code what} is what it should be, e.g. "a file of requests".
     */
    static String unusableFile(java.nio.file.Path file, String what) {
        if (java.nio.file.Files.isDirectory(file)) {
            return "is a directory, not " + what;
        }
        if (!java.nio.file.Files.exists(file)) {
            return "no such file";
        }
        if (!java.nio.file.Files.isReadable(file)) {
            return "not readable by this user";
        }
        return null;
    }

    /** Why Kafka did not take a record, from the producer's exception (which holds no record content). */
    static String kafkaRefusal(Exception e) {
        if (e instanceof org.apache.kafka.common.errors.RecordTooLargeException) {
            return "larger than the topic accepts (its max.message.bytes): RecordTooLargeException";
        }
        if (e instanceof org.apache.kafka.common.errors.TimeoutException) {
            return "Kafka did not acknowledge it in time (delivery.timeout.ms): TimeoutException";
        }
        if (e instanceof org.apache.kafka.common.errors.AuthorizationException) {
            return "this principal may not write to the topic (an ACL): " + e.getClass().getSimpleName();
        }
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }

    /**
     * A request id given on the command line, checked against the message contract before it is
     * looked for: one that cannot be a request id is a usage error (exit 2), and is not echoed
     * (it may hold control characters, or be a pasted identifier).
     */
    static String requestIdArgument(String option, String id) {
        if (!dev.cioerasure.request.RequestParser.isRequestId(id)) {
            throw new UserError(option + ": not a request id (1-128 printable ASCII characters, no leading or trailing space)", 2);
        }
        return id;
    }

    /**
     * Standard output was closed by its reader ({@code dlq list | head}): a listing stops there.
     * Java never dies of SIGPIPE, so a long listing ran to its end, reading the whole topic and
     * looking up every page, while the shell waited for it.
     */
    static final class ReaderGone extends RuntimeException {
        ReaderGone() {
            super("standard output was closed by its reader", null, false, false);
        }
    }

    /**
     * Stops a listing once standard output can take nothing more (it flushes what it holds):
     * {@link ReaderGone} when its reader went away, else the output is lost ({@link #OUTPUT_LOST}).
     */
    static void stopIfReaderGone() {
        if (System.out.checkError()) {
            throw stopped();
        }
    }

    /** Why a listing stops when standard output takes nothing more: its reader went away, or the output was lost. */
    static RuntimeException stopped() {
        java.io.IOException lost = StandardOutput.lost();
        return lost == null ? new ReaderGone() : new UserError(outputLost(lost), OUTPUT_LOST);
    }

    /** The line that says standard output was lost. */
    static String outputLost(java.io.IOException e) {
        return "standard output could not be written (" + e.getMessage() + "): what was printed is incomplete";
    }
}
