package dev.cioerasure.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP proxy on loopback that a test can cut (every connection dropped, new ones refused) and
 * restore, to simulate a database outage without stopping the database; or whose open
 * connections it can hang (nothing more forwarded, nothing closed) while new ones are served, as
 * after a failover: the old primary's address answers no more, and the name leads to the new one.
 */
public final class TcpProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int upstreamPort;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean up = true;
    private final java.util.concurrent.atomic.AtomicLong generation = new java.util.concurrent.atomic.AtomicLong();
    private volatile long hungBelow;
    private final java.util.Map<Socket, Long> upstreams = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** Once a client sends this, the proxy goes silent after forwarding it ({@link #freezeOnceSent}). */
    private volatile String freezeMarker;
    private volatile boolean frozen;

    public TcpProxy(int upstreamPort) throws IOException {
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::accept, "tcp-proxy");
        t.setDaemon(true);
        t.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** The JDBC URL {@code jdbcUrl} (to this proxy's upstream port) routed through this proxy instead. */
    public String route(String jdbcUrl) {
        return jdbcUrl.replace(":" + upstreamPort + "/", ":" + port() + "/");
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = server.accept();
                if (!up) {
                    client.close();
                    continue;
                }
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort);
                open.add(client);
                open.add(upstream);
                long born = generation.get();
                upstreams.put(upstream, born);
                pump(client, upstream, born, client, upstream);
                pump(upstream, client, born, client, upstream);
            } catch (IOException e) {
                if (closed) {
                    return;
                }
            }
        }
    }

    private void pump(Socket from, Socket to, long born, Socket client, Socket upstream) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[16 * 1024];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buf)) >= 0 && born >= hungBelow) {
                    if (frozen) {
                        continue; // silent: read and dropped, both sockets left open
                    }
                    out.write(buf, 0, n);
                    out.flush();
                    String marker = freezeMarker;
                    if (from == client && marker != null && new String(buf, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1).contains(marker)) {
                        frozen = true;
                    }
                }
            } catch (IOException ignored) {
                // connection cut, or its database side closed by hangOpenConnections
            }
            if (born < hungBelow) {
                // hung: the database side is gone, the client's connection stays open and silent
                closeQuietly(upstream);
                while (!closed && !client.isClosed()) {
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
            closeQuietly(from);
            closeQuietly(to);
        }, "tcp-proxy-pump");
        t.setDaemon(true);
        t.start();
    }

    /** Drops every connection and refuses new ones until {@link #restore()}. */
    public void cut() {
        up = false;
        open.forEach(TcpProxy::closeQuietly);
        open.clear();
    }

    /**
     * The connections open now forward nothing more and stay open on the client's side, while the
     * database sees them closed (it ends their sessions, releasing their locks); new connections
     * are served. A pump blocked reading notices at its next read: a client waiting for an answer
     * gets none, since the database's side is closed at once.
     */
    public void hangOpenConnections() {
        long below = generation.incrementAndGet();
        hungBelow = below;
        upstreams.forEach((socket, born) -> {
            if (born < below) {
                closeQuietly(socket);
            }
        });
    }

    /**
     * A network partition at a chosen moment: once a client sends bytes holding {@code marker}
     * (e.g. a statement's text), they are forwarded, and from then on nothing more goes either
     * way while every socket stays open. The database sees a client that went quiet mid-session
     * (its TCP peer, this proxy, still answers keepalives: only a timeout of its own ends it).
     */
    public void freezeOnceSent(String marker) {
        freezeMarker = marker;
    }

    /** Whether {@link #freezeOnceSent}'s marker has gone through, and the proxy is silent. */
    public boolean frozen() {
        return frozen;
    }

    public void restore() {
        up = true;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() {
        closed = true;
        cut();
        try {
            server.close();
        } catch (IOException ignored) {
            // already closed
        }
    }
}
