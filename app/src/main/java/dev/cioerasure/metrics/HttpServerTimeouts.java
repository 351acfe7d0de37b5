package dev.cioerasure.metrics;

/**
 * Time limits for the JDK HTTP server behind the worker's monitoring port and the intake. That
 * server reads a request's headers and body on a thread of its small pool (2 for monitoring, 16
 * for the intake) and by default waits for them forever: that many clients that connect and send
 * nothing, or half a request, would leave no thread for anyone else, health probes included. With
 * these limits a client that has not sent its whole request within {@value #SECONDS} s, or not
 * read the whole answer within {@value #SECONDS} s, is disconnected.
 *
 * <p>The server reads its limits once per JVM, from system properties, when the first server is
 * made: {@link #install()} must run before that, and keeps values an operator set with
 * {@code -Dsun.net.httpserver.maxReqTime=N} / {@code maxRspTime=N} (seconds).
 */
public final class HttpServerTimeouts {
    static final int SECONDS = 10;
    static final String MAX_REQUEST_TIME = "sun.net.httpserver.maxReqTime";
    static final String MAX_RESPONSE_TIME = "sun.net.httpserver.maxRspTime";

    private HttpServerTimeouts() {
    }

    public static void install() {
        for (String property : new String[] {MAX_REQUEST_TIME, MAX_RESPONSE_TIME}) {
            if (System.getProperty(property) == null) {
                System.setProperty(property, Integer.toString(SECONDS));
            }
        }
    }
}
