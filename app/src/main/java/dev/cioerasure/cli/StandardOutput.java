package dev.cioerasure.cli;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's standard output, remembering why it could not be written. A {@code PrintStream}
 * only says that a write failed ({@code checkError}), and the commands took every failure for a
 * reader that had gone ({@code dlq list | head}) and exited 0: {@code audit report --format csv >
 * proof.csv} on a full disk left a cut proof behind exit 0. A reader gone is a broken pipe on a
 * pipe or socket; any other failure is the output lost, and said so ({@link Errors#OUTPUT_LOST}).
 */
final class StandardOutput extends FilterOutputStream {
    private static volatile IOException failure;

    StandardOutput(OutputStream out) {
        super(out);
    }

    @Override
    public void write(int b) throws IOException {
        try {
            out.write(b);
        } catch (IOException e) {
            throw failed(e);
        }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        try {
            out.write(b, off, len);
        } catch (IOException e) {
            throw failed(e);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            out.flush();
        } catch (IOException e) {
            throw failed(e);
        }
    }

    private static IOException failed(IOException e) {
        if (failure == null) {
            failure = e;
        }
        return e;
    }

    /** Why standard output could not be written, when it was not its reader going away; null when it could, or only that. */
    static IOException lost() {
        IOException e = failure;
        return e == null || readerGone(e) ? null : e;
    }

    /**
     * Whether a failed write means only that the reader went away: the pipe's reader closed it (the
     * JDK says "Broken pipe"; on Linux, standard output is then a pipe or a socket, whatever the
     * message's language).
     */
    private static boolean readerGone(IOException e) {
        if (e.getMessage() != null && e.getMessage().contains("Broken pipe")) {
            return true;
        }
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/1")).toString();
            return target.startsWith("pipe:") || target.startsWith("socket:");
        } catch (IOException | UnsupportedOperationException | SecurityException notLinux) {
            return false;
        }
    }
}
