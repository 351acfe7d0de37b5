package dev.cioerasure.metrics;

/**
 * Time limits for the JDK HTTP server behind the worker's monitoring port and the intake. That
 * server reads a request's headers and body on a thread of its small pool (2 for monitoring, 16
 * for the intake) and by default waits for them forever: that many clients that connect and send
 * nothing, or half a request, would leave no thread for anyone else, health probes included. With
 * these limits a client that has not sent its whole request within {@value #SECONDS} s, or not
 * read the whole answer within {@value #SECONDS} s, is disconnected.
 *
 * <p>Also how much of a request body nobody read the server discards after the answer, so that
 * the connection closes cleanly: 1 MiB, not its default 64 KiB. The intake answers a body over
 * 64 KiB with 413 unread; with a 64 KiB drain the server then closed a connection whose sender
 * was still sending, its reset could arrive before the sender read the answer, and the sender
 * saw "connection reset" instead of 413 (IntakeIT failed so once). A body larger still is cut off.
 *
 * <p>The server reads its limits once per JVM, from system properties, when the first server is
 * made: {@link #install()} must run before that, and keeps values an operator set with
 * {@code -Dsun.net.httpserver.maxReqTime=N} / {@code maxRspTime=N} (seconds) or {@code drainAmount=N} (bytes).
 */
public final class HttpServerTimeouts {
    static final int SECONDS = 10;
    static final String MAX_REQUEST_TIME = "sun.net.httpserver.maxReqTime";
    static final String MAX_RESPONSE_TIME = "sun.net.httpserver.maxRspTime";
    static final String DRAIN_AMOUNT = "sun.net.httpserver.drainAmount";
    /** Bytes of an unread request body discarded after the answer. */
    static final int DRAIN_BYTES = 1024 * 1024;

    private HttpServerTimeouts() {
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
    }
}
