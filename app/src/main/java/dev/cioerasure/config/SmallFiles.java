package dev.cioerasure.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Reads files that are small by nature (secrets, keys, client settings) without trusting their
 * size: a setting pointed at the wrong file (a log, a disk image, {@code /dev/zero}) was read
 * whole, and the command ended "out of memory" instead of naming the setting; a rotated key file
 * replaced by a large one would have done the same to a running worker.
 */
public final class SmallFiles {
    /** A secret or a key in PEM: far below this. */
    public static final int KEY_BYTES = 64 * 1024;

    private SmallFiles() {
    }

    /** The file is larger than its kind ever is; the message says so without any of its content. */
    public static final class TooLarge extends IOException {
        TooLarge(int limit) {
            super("larger than " + String.format(Locale.ROOT, "%,d", limit) + " bytes, which no such file is");
        }
    }

    /** At most {@code limit} bytes of the file, or {@link TooLarge} after reading one byte more (never the rest). */
    public static byte[] read(Path file, int limit) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw new TooLarge(limit);
            }
            return bytes;
        }
    }

    /** The same, decoded; bytes that are not in the charset throw (as {@link Files#readString} does). */
    public static String readString(Path file, int limit, Charset charset) throws IOException {
        return charset.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(read(file, limit))).toString();
    }

    /**
     * Puts {@code written}, a file written beside {@code target} in the same directory, in its
     * place: atomically where the file system can, so that a command stopped meanwhile leaves the
     * old file or the new one, never half of one (the submit record, a receipt).
     */
    public static void replace(Path written, Path target) throws IOException {
        try {
            Files.move(written, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.nio.file.AtomicMoveNotSupportedException e) {
            Files.move(written, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
