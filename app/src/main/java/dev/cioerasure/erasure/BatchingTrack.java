package dev.cioerasure.erasure;

import dev.cioerasure.customerio.BatchClient;
import dev.cioerasure.customerio.RegionCheck;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackOperation;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.metrics.MetricNames;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.threads.DaemonThreads;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Track calls gathered into v2 batches ({@code CUSTOMERIO_TRACK_API=batch}). Each caller still
 * makes one call (suppress or destroy one person) and gets its own result (without a thread
 * waiting for it: {@link #send}), so retries,
 * {@code Retry-After}, the breaker and the credential gate work per person as in v1. Here, calls
 * queue per operation and leave together: a batch goes when it holds {@code maxItems} calls, or
 * when its oldest call has waited {@code maxWait}, and is cut short where its body would reach
 * {@link BatchClient#MAX_REQUEST_BYTES}.
 * <ul>
 *   <li>A batch holds one operation only, so one person's suppress and delete are never in the same
 *       batch (Customer.io does not document the order inside one), and a delete is only asked for
 *       after that person's suppress was accepted.</li>
 *   <li>Pacing counts batch requests, not items: each request takes a slot of an
 *       {@link ArrivalWindow} sized by this instance's grant of the group's budget, with the same
 *       guarantee as v1 (no window of one second ever sees more arrivals than the limit).</li>
 *   <li>A 207 refuses only the items it lists (by {@code batch_index}); the others were accepted.</li>
 *   <li>A 400 (or a 413) refuses the batch whole: it is cut in halves and each half sent again, down to the
 *       single items, so one bad item fails only its own person.</li>
 *   <li>Anything else (401/403, 408/429/5xx, no response, a malformed 207) is every item's result.</li>
 * </ul>
 */
public final class BatchingTrack implements TrackClient, NonBlockingTrack, Paced, AutoCloseable {
    /** Items per batch at most; a batch is also cut where its body would reach the 500 KB limit. */
    public static final int MAX_ITEMS = 1000;

    /** A queued call: its batch item, and when it was queued. */
    private record Pending(BatchClient.Item item, CompletableFuture<TrackResult> result, long since) {
        /** What it adds to a batch body. */
        int bytes() {
            return BatchClient.encodedSize(item);
        }
    }

    private final BatchClient client;
    private final int maxItems;
    private final long maxWaitNanos;
    /** The batch requests' pacing: the group's grant, as an arrival window. */
    private final LeasedWindow pacing;
    private final Map<TrackOperation, ArrayDeque<Pending>> queues = new EnumMap<>(TrackOperation.class);
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ExecutorService senders = Executors.newCachedThreadPool(DaemonThreads.numbered("track-batch-"));
    private final Thread dispatcher;
    private volatile boolean closed;
    private final MeterRegistry meters;
    private final DistributionSummary batchItems;
    private final Map<String, Timer> batchTimers = new ConcurrentHashMap<>();

    /**
     * @param callsPerSecond the batch requests per second this instance may make until a grant says otherwise
     */
    public BatchingTrack(BatchClient client, int maxItems, Duration maxWait, int callsPerSecond, int headroomPercent,
                         Duration unansweredGrace, MeterRegistry meters) {
        if (maxItems < 1 || maxItems > MAX_ITEMS) {
            throw new IllegalArgumentException("maxItems must be 1.." + MAX_ITEMS);
        }
        this.client = client;
        this.maxItems = maxItems;
        this.maxWaitNanos = maxWait.toNanos();
        this.pacing = new LeasedWindow(callsPerSecond, headroomPercent, unansweredGrace, "waiting for a share of the group's rate");
        this.meters = meters;
        this.batchItems = DistributionSummary.builder(MetricNames.TRACK_BATCH_ITEMS)
                .description("Items (persons) per Track v2 batch request").register(meters);
        queues.put(TrackOperation.SUPPRESS, new ArrayDeque<>());
        queues.put(TrackOperation.DESTROY, new ArrayDeque<>());
        this.dispatcher = new Thread(this::dispatch, "track-batch-dispatcher");
        dispatcher.setDaemon(true);
        dispatcher.start();
    }

    @Override
    public TrackResult suppress(Identifier identifier) {
        return ErasureExecutor.await(send(TrackOperation.SUPPRESS, identifier));
    }

    @Override
    public TrackResult destroy(Identifier identifier) {
        return ErasureExecutor.await(send(TrackOperation.DESTROY, identifier));
    }

    @Override
    public RegionCheck region() {
        return client.region();
    }

    @Override
    public void reloadCredentials() {
        client.reloadCredentials();
    }

    /**
     * Queues the call; the future completes with its batch's answer (on the thread that sent the
     * batch: what follows must not block), or is cancelled when the sender closes.
     */
    @Override
    public CompletableFuture<TrackResult> send(TrackOperation op, Identifier identifier) {
        Pending p = new Pending(new BatchClient.Item(op, identifier), new CompletableFuture<>(), System.nanoTime());
        lock.lock();
        try {
            if (closed) {
                p.result().cancel(false);
                return p.result();
            }
            ArrayDeque<Pending> queue = queues.get(op);
            queue.addLast(p);
            if (queue.size() == 1 || queue.size() >= maxItems) {
                changed.signal(); // a new oldest call (a new deadline) or a full batch: otherwise the dispatcher's timer stands
            }
        } finally {
            lock.unlock();
        }
        return p.result();
    }

    /** Sends each operation's batch once it is full or its oldest call has waited long enough. */
    private void dispatch() {
        lock.lock();
        try {
            while (!closed) {
                long now = System.nanoTime();
                long nextDue = Long.MAX_VALUE;
                for (Map.Entry<TrackOperation, ArrayDeque<Pending>> q : queues.entrySet()) {
                    ArrayDeque<Pending> queue = q.getValue();
                    while (!queue.isEmpty() && (queue.size() >= maxItems || now - queue.peekFirst().since() >= maxWaitNanos)) {
                        List<Pending> batch = new ArrayList<>(Math.min(maxItems, queue.size()));
                        // also capped by size: 1,000 of the longest identifiers (254 characters of
                        // three UTF-8 bytes each) would make a body of over 800 KB
                        int bytes = BatchClient.ENVELOPE_BYTES;
                        while (batch.size() < maxItems && !queue.isEmpty()
                                && (batch.isEmpty() || bytes + queue.peekFirst().bytes() <= BatchClient.MAX_REQUEST_BYTES)) {
                            Pending p = queue.pollFirst();
                            bytes += p.bytes();
                            batch.add(p);
                        }
                        TrackOperation op = q.getKey();
                        senders.execute(() -> send(op, batch));
                    }
                    if (!queue.isEmpty()) {
                        nextDue = Math.min(nextDue, queue.peekFirst().since() + maxWaitNanos);
                    }
                }
                if (nextDue == Long.MAX_VALUE) {
                    changed.await();
                } else {
                    changed.awaitNanos(Math.max(1, nextDue - System.nanoTime()));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
    }

    /** One batch request, paced; a whole-batch 400 or 413 is bisected. Completes every item's result. */
    private void send(TrackOperation op, List<Pending> batch) {
        try {
            pacing.acquire();
        } catch (CancellationException e) {
            batch.forEach(p -> p.result().cancel(false));
            return;
        }
        BatchClient.Response r;
        try {
            r = client.send(batch.stream().map(Pending::item).toList());
        } catch (RuntimeException e) {
            pacing.finished(false);
            batch.forEach(p -> p.result().completeExceptionally(e));
            return;
        }
        pacing.finished(r.status() > 0);
        batchItems.record(batch.size());
        batchTimers.computeIfAbsent(dev.cioerasure.customerio.StatusTags.of(r.status(), r.detail()), s -> Timer.builder(MetricNames.TRACK_BATCHES)
                .description("Track v2 batch requests by HTTP status").tag("status", s).register(meters)).record(r.latency());
        // 413: a server (or a proxy before it) that counts size more strictly still; halves pass
        if ((r.status() == 400 || r.status() == 413) && batch.size() > 1) {
            int half = batch.size() / 2;
            send(op, batch.subList(0, half));
            send(op, batch.subList(half, batch.size()));
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).result().complete(resultOf(op, r, i, batch.size()));
        }
    }

    /** One item's result in a batch's answer. */
    static TrackResult resultOf(TrackOperation op, BatchClient.Response r, int index, int size) {
        String refused = r.refused().get(index);
        if (refused != null) {
            return new TrackResult(op, r.status(), TrackResult.Kind.PERMANENT, Optional.empty(), refused, r.latency());
        }
        if ((r.status() == 400 || r.status() == 413) && size == 1) {
            return new TrackResult(op, r.status(), TrackResult.Kind.PERMANENT, Optional.empty(),
                    "http " + r.status() + ": the batch refused this item", r.latency());
        }
        return new TrackResult(op, r.status(), r.kind(), r.retryAfter(), r.detail(), r.latency());
    }

    @Override
    public void setGrant(int callsPerSecond, long validUntilNanos) {
        pacing.setGrant(callsPerSecond, validUntilNanos);
    }

    @Override
    public int occupied() {
        return pacing.occupied();
    }

    @Override
    public int waiting() {
        return pacing.waiting();
    }

    /** Batch requests per second this instance may make now. */
    @Override
    public int callsPerSecond() {
        return pacing.callsPerSecond();
    }

    /** Stops sending: calls still queued are cancelled (their records are handed back, not audited). */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            queues.values().forEach(q -> q.forEach(p -> p.result().cancel(false)));
            queues.values().forEach(ArrayDeque::clear);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        senders.shutdownNow();
    }
}
