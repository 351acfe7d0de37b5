package dev.cioerasure.audit;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Where audit rows go: the future completes once they are durable ({@link AuditWriter}). */
public interface AuditSink {
    CompletableFuture<Void> append(List<AuditEvent> rows);
}
