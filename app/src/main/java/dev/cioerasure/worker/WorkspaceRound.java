package dev.cioerasure.worker;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.FinalOutcomes;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import dev.cioerasure.customerio.TrackResult;
import dev.cioerasure.erasure.ErasureResult;
import dev.cioerasure.erasure.StepResult;
import dev.cioerasure.erasure.Workspaces;
import dev.cioerasure.request.ErasureRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One round of a request's erasure over the workspaces it still misses (those without a
 * WORKSPACE SUCCEEDED row), in configuration order: suppress (unless accepted in an earlier
 * round), then destroy. It collects the rows (the calls made, and each workspace's WORKSPACE row
 * once final there) and sorts each
 * workspace that did not succeed by why: failed permanently, retries exhausted, or paused (no
 * call made: an outage or a refused key).
 */
final class WorkspaceRound {
    /** Makes the request's rows: the same request, subject and record, another step and outcome. */
    interface Rows {
        AuditEvent row(Step step, Outcome outcome, Integer status, Integer attempts, String reason);
    }

    final List<AuditEvent> rows = new ArrayList<>(5);
    final Shortfall permanent;
    final Shortfall exhausted;
    final Shortfall paused;
    private final Rows make;

    private WorkspaceRound(boolean several, Rows make) {
        this.make = make;
        this.permanent = new Shortfall(several);
        this.exhausted = new Shortfall(several);
        this.paused = new Shortfall(several);
    }

    /**
     * Erases in each workspace still to do, one after another (configuration order), holding no
     * thread while a call waits.
     *
     * @return the round; fails with a {@link java.util.concurrent.CancellationException} on shutdown
     */
    static CompletableFuture<WorkspaceRound> run(Workspaces workspaces, ErasureRequest r, FinalOutcomes.Standing standing, Rows rows) {
        WorkspaceRound round = new WorkspaceRound(workspaces.several(), rows);
        CompletableFuture<Void> done = CompletableFuture.completedFuture(null);
        for (String name : workspaces.toDo(r.workspaces(), standing.completedWorkspaces())) {
            Workspaces.Workspace ws = workspaces.get(name);
            done = done.thenCompose(v -> ws.executor().eraseAsync(r.identifier(), standing.suppressedWorkspaces().contains(name)))
                    .thenAccept(result -> round.add(name, result));
        }
        return done.thenApply(v -> round);
    }

    /** One workspace's erasure: its step rows, and its WORKSPACE row or why it is not done. */
    private void add(String name, ErasureResult result) {
        for (StepResult step : new StepResult[] {result.suppress(), result.destroy()}) {
            if (step != null && step.last().kind() != TrackResult.Kind.PAUSED) {
                rows.add(stepRow(make, step).inWorkspace(name));
            }
        }
        switch (result.verdict()) {
            case COMPLETED -> rows.add(make.row(Step.WORKSPACE, Outcome.SUCCEEDED, null, null, null).inWorkspace(name));
            case RETRIES_EXHAUSTED -> exhausted.add(name, result);
            case PAUSED -> paused.add(name, result);
            default -> {
                permanent.add(name, result);
                rows.add(workspaceFailed(make, result, "").inWorkspace(name));
            }
        }
    }

    /** Every workspace of the request has succeeded (in this round or before). */
    boolean complete() {
        return permanent.none() && exhausted.none() && paused.none();
    }

    /** After the last retry round: a WORKSPACE FAILED row for each workspace whose retries ran out. */
    void giveUp(String why) {
        exhausted.results.forEach((name, result) -> rows.add(workspaceFailed(make, result, why).inWorkspace(name)));
    }

    private static AuditEvent workspaceFailed(Rows rows, ErasureResult result, String why) {
        StepResult failed = result.failedStep();
        return rows.row(Step.WORKSPACE, Outcome.FAILED, statusOrNull(failed.last()), failed.attempts(), result.reason() + why);
    }

    private static AuditEvent stepRow(Rows rows, StepResult s) {
        TrackResult t = s.last();
        return rows.row(Step.valueOf(t.operation().name()), t.isSuccess() ? Outcome.SUCCEEDED : Outcome.FAILED, statusOrNull(t),
                s.attempts(), t.isSuccess() ? null : t.detail() + " (" + t.kind().name().toLowerCase(java.util.Locale.ROOT) + ")");
    }

    static Integer statusOrNull(TrackResult t) {
        return t.status() > 0 ? t.status() : null;
    }

    /** The workspaces of one kind of shortfall, in order, for the reason. */
    static final class Shortfall {
        final Map<String, ErasureResult> results = new LinkedHashMap<>();
        private final boolean several;

        Shortfall(boolean several) {
            this.several = several;
        }

        void add(String workspace, ErasureResult result) {
            results.put(workspace, result);
        }

        boolean any() {
            return !results.isEmpty();
        }

        boolean none() {
            return results.isEmpty();
        }

        ErasureResult first() {
            return results.values().iterator().next();
        }

        /** The longest wait a server asked for (Retry-After) in the last answer of a failed step, or zero. */
        Duration longestRetryAfter() {
            return results.values().stream().map(ErasureResult::failedStep).filter(java.util.Objects::nonNull)
                    .map(failed -> failed.last().retryAfter().orElse(Duration.ZERO)).max(Duration::compareTo).orElse(Duration.ZERO);
        }

        String describe() {
            return describe("");
        }

        /**
         * E.g. {@code workspace eu: destroy: http 503 after 5 attempts (retryable)}; the bare reason
         * when only one workspace is configured (as before workspaces existed).
         */
        String describe(String prefix) {
            if (results.isEmpty()) {
                return "";
            }
            List<String> parts = new ArrayList<>();
            results.forEach((w, result) -> parts.add(several ? "workspace " + w + ": " + result.reason() : result.reason()));
            return prefix + String.join("; ", parts);
        }
    }
}
