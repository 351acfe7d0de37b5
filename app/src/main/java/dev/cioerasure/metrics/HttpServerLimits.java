package dev.cioerasure.metrics;

import java.lang.management.ManagementFactory;

/**
 * Limits for the JDK HTTP server behind the worker's monitoring port and the intake.
 *
 * <p>Time: that server reads a request's headers and body on a thread of its small pool (2 for
 * monitoring, 16 for the intake) and by default waits for them forever: that many clients that
 * connect and send nothing, or half a request, would leave no thread for anyone else, health
 * probes included. With these limits a client that has not sent its whole request within
 * {@value #SECONDS} s, or not read the whole answer within {@value #SECONDS} s, is disconnected.
 *
 * <p>Connections: by default the server accepts every connection. A flood of them (thousands
 * opened within those 10 s) took every file descriptor of the process: the intake's Kafka
 * client could then not be made ("Too many open files"), the intake turned not ready, and the
 * server spun on a core. Each server now holds at most {@value #MAX_CONNECTIONS_CEILING} connections
 * at once, and at most a quarter of the process's file descriptors (the intake with
 * {@code --metrics-port} runs two servers); one more is closed as soon as it is accepted. The
 * flood is then refused at the door, while the process keeps its descriptors.
 *
 * <p>Drain: how much of a request body nobody read the server discards after the answer, so that
 * the connection closes cleanly: 1 MiB, not its default 64 KiB. The intake answers a body over
 * 64 KiB with 413 unread; with a 64 KiB drain the server then closed a connection whose sender
 * was still sending, its reset could arrive before the sender read the answer, and the sender
 * saw "connection reset" instead of 413 (IntakeIT failed so once). A body larger still is cut off.
 *
 * <p>The server reads its limits once per JVM, from system properties, when the first server is
 * made: {@link #install()} must run before that, and keeps values an operator set with
 * {@code -Dsun.net.httpserver.maxReqTime=N} / {@code maxRspTime=N} (seconds), {@code drainAmount=N}
 * (bytes) or {@code -Djdk.httpserver.maxConnections=N}.
 */
public final class HttpServerLimits {
    static final int SECONDS = 10;
    static final String MAX_REQUEST_TIME = "sun.net.httpserver.maxReqTime";
    static final String MAX_RESPONSE_TIME = "sun.net.httpserver.maxRspTime";
    static final String DRAIN_AMOUNT = "sun.net.httpserver.drainAmount";
    static final String MAX_CONNECTIONS = "jdk.httpserver.maxConnections";
    /** Bytes of an unread request body discarded after the answer. */
    static final int DRAIN_BYTES = 1024 * 1024;
    /** Connections one server holds at once, unless the process has fewer than four times as many file descriptors. */
    static final int MAX_CONNECTIONS_CEILING = 1000;

    private HttpServerLimits() {
    }

    public static void install() {
        for (String property : new String[] {MAX_REQUEST_TIME, MAX_RESPONSE_TIME}) {
            if (System.getProperty(property) == null) {
                System.setProperty(property, Integer.toString(SECONDS));
            }
        }
        if (System.getProperty(DRAIN_AMOUNT) == null) {
            System.setProperty(DRAIN_AMOUNT, Integer.toString(DRAIN_BYTES));
        }
        if (System.getProperty(MAX_CONNECTIONS) == null) {
            System.setProperty(MAX_CONNECTIONS, Long.toString(maxConnections(maxFileDescriptors())));
        }
    }

    /** At most the ceiling, and at most a quarter of the file descriptors (at least 16); the ceiling when that count is unknown. */
    static long maxConnections(long fileDescriptors) {
        if (fileDescriptors <= 0) {
            return MAX_CONNECTIONS_CEILING;
        }
        return Math.max(16, Math.min(MAX_CONNECTIONS_CEILING, fileDescriptors / 4));
    }

    /** The process's limit of open files, or -1 where the platform does not tell. */
    private static long maxFileDescriptors() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            return unix.getMaxFileDescriptorCount();
        }
        return -1;
    }
}
