package dev.cioerasure.customerio;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One HTTP exchange bounded in time and size. The JDK client's request timeout ends when the
 * response headers arrive: a server (or a proxy) that then trickles its body, or sends gigabytes
 * of it, would hold the call and its thread, and fill the heap, for as long as it liked. Here the
 * request's timeout bounds the whole exchange, body included, and the body is kept no further
 * than a limit: past it the response keeps its status and headers without a body, and the rest
 * of the exchange is cancelled (the connection is closed).
 */
final class BoundedExchange {
    private BoundedExchange() { }

    /**
     * Sends the request (it must have a timeout); the response's body is null when it was longer
     * than {@code maxBody} bytes, and empty when {@code keep} is false (counted, not kept).
     */
    static HttpResponse<byte[]> send(HttpClient http, HttpRequest request, int maxBody, boolean keep)
            throws IOException, InterruptedException {
        Duration timeout = request.timeout().orElseThrow(() -> new IllegalArgumentException("a request without a timeout"));
        java.util.concurrent.atomic.AtomicReference<Body> body = new java.util.concurrent.atomic.AtomicReference<>();
        CompletableFuture<HttpResponse<byte[]>> exchange = http.sendAsync(request, info -> {
            Body b = new Body(maxBody, keep);
            body.set(b);
            return b;
        });
        try {
            HttpResponse<byte[]> response = exchange.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (response.body() == null) {
                // past the limit: the rest is not read. Cancelled only now that the response is
                // complete; cancelled before, the exchange could fail instead of keeping its status.
                body.get().cancel();
            }
            return response;
        } catch (TimeoutException e) {
            exchange.cancel(true);
            throw new HttpTimeoutException("no whole response within " + timeout);
        } catch (InterruptedException e) {
            exchange.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException c && c.getCause() != null ? c.getCause() : e.getCause();
            if (cause instanceof IOException io) {
                throw io; // its type (connect refused, connect timeout, timeout) says what went wrong
            }
            throw new IOException(cause);
        }
    }

    /** Collects (or only counts) up to {@code max} bytes; past that, completes with null and ignores the rest until cancelled. */
    private static final class Body implements HttpResponse.BodySubscriber<byte[]> {
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private final int max;
        private final boolean keep;
        private Flow.Subscription subscription;
        private long seen;

        Body(int max, boolean keep) {
            this.max = max;
            this.keep = keep;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> buffers) {
            for (ByteBuffer b : buffers) {
                if (result.isDone()) {
                    return;
                }
                int n = b.remaining();
                seen += n;
                if (seen > max) {
                    result.complete(null); // the exchange completes with its status and no body; send() then cancels
                    return;
                }
                if (keep) {
                    byte[] bytes = new byte[n];
                    b.get(bytes);
                    kept.write(bytes, 0, n);
                }
            }
        }

        void cancel() {
            subscription.cancel();
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(keep ? kept.toByteArray() : new byte[0]);
        }
    }
}
