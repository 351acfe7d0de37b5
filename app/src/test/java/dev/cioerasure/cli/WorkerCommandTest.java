package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.errors.FencedInstanceIdException;
import org.junit.jupiter.api.Test;

class WorkerCommandTest {
    private static Settings settings() {
        Map<String, String> env = new HashMap<>(ProductionJarIT.WORKER_AGAINST_NOTHING);
        env.put("WORKER_INSTANCE_ID", "worker-a");
        env.put("ERASURE_GROUP_ID", "erasers");
        return SettingsLoader.load(env, EnumSet.of(SettingsLoader.Part.KAFKA, SettingsLoader.Part.DATABASE,
                SettingsLoader.Part.CUSTOMERIO, SettingsLoader.Part.AUDIT, SettingsLoader.Part.WORKER));
    }

    @Test
    void aFencedWorkerIsAConfigurationErrorNamingItsInstanceIdAndGroup() {
        Errors.UserError e = WorkerCommand.whyTheLoopEnded(new FencedInstanceIdException("fenced"), settings());
        assertThat(e.exitCode()).isEqualTo(Errors.CONFIG);
        assertThat(e.getMessage()).isEqualTo("another worker joined consumer group erasers with WORKER_INSTANCE_ID 'worker-a' and took"
                + " this one's place: give every instance its own WORKER_INSTANCE_ID (unset, it is hostname-pid)");
    }

    /**
     * The consumer group protocol refuses the newcomer where the classic one fences the other: it
     * ended as "unexpectedly" (exit 70), "exiting so that the supervisor restarts the worker".
     */
    @Test
    void anInstanceIdTheConsumerProtocolHoldsForAnotherMemberIsAConfigurationErrorSayingWhy() {
        Errors.UserError e = WorkerCommand.whyTheLoopEnded(new org.apache.kafka.common.errors.UnreleasedInstanceIdException("held"),
                settings());
        assertThat(e.exitCode()).isEqualTo(Errors.CONFIG);
        assertThat(e.getMessage()).isEqualTo("consumer group erasers holds WORKER_INSTANCE_ID 'worker-a' for another member"
                + " (group.protocol=consumer): another worker runs with this id, or this instance's last run ended without leaving the"
                + " group (killed), and the group keeps its id until that session times out (group.consumer.session.timeout.ms, 45 s by"
                + " default): give every instance its own WORKER_INSTANCE_ID, or start this one again after that time");
        Errors.UserError gaveUp = WorkerCommand.whyTheLoopEnded(new dev.cioerasure.worker.InstanceIdRelease.Held("held for 90 s"),
                settings());
        assertThat(gaveUp.exitCode()).isEqualTo(Errors.CONFIG);
        assertThat(gaveUp.getMessage()).isEqualTo("held for 90 s");
    }

    /** A withdrawn ACL ended the loop as "unexpectedly" (exit 70); a restart does not mend it. */
    @Test
    void aRefusalByTheAuthorizerIsAConfigurationErrorNamingTheAcls() {
        Errors.UserError e = WorkerCommand.whyTheLoopEnded(
                new org.apache.kafka.common.errors.TopicAuthorizationException(java.util.Set.of("erasure.requests")), settings());
        assertThat(e.exitCode()).isEqualTo(Errors.CONFIG);
        assertThat(e.getMessage()).startsWith("the cluster at ").contains("refuses this worker what it needs (",
                "TopicAuthorizationException", "erasure.requests", "group erasers", "docs/operations.md");
        assertThat(WorkerCommand.whyTheLoopEnded(new org.apache.kafka.common.errors.GroupAuthorizationException("erasers"),
                settings()).exitCode()).isEqualTo(Errors.CONFIG);
    }

    /** Out of memory reading records, three times, without a single record larger than the heap: a larger heap is the cure. */
    @Test
    void runningOutOfMemoryReadingRecordsWithoutAnUnreadableRecordAsksForALargerHeap() {
        java.util.Map<org.apache.kafka.common.TopicPartition, Long> at = new java.util.LinkedHashMap<>();
        at.put(new org.apache.kafka.common.TopicPartition("erasure.requests", 3), 1200L);
        at.put(new org.apache.kafka.common.TopicPartition("erasure.requests.retry", 0), 7L);
        Errors.UserError e = WorkerCommand.whyTheLoopEnded(dev.cioerasure.worker.ErasureWorker.OutOfMemoryReading.near(at), settings());
        assertThat(e.exitCode()).isEqualTo(Errors.SOFTWARE);
        assertThat(e.getMessage()).matches("the worker ran out of memory \\(\\d+ MiB heap\\) three times reading records at or after"
                + " erasure.requests-3 offset 1200, erasure.requests.retry-0 offset 7, and no single record there is larger than the"
                + " heap: give it a larger heap \\(JAVA_OPTS, -Xmx; docs/operations.md, \"A record larger than the heap\"\\)");
    }

    /** Out of memory in a thread of its own: the worker says so in one line and exits 70, rather than running on without it. */
    @Test
    void aThreadLostToOutOfMemoryStopsTheWorkerWithOneLine() {
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        java.util.List<Integer> halted = new java.util.ArrayList<>();
        Thread.UncaughtExceptionHandler h = WorkerCommand.lostThreads(new java.io.PrintStream(err, true), halted::add);
        h.uncaughtException(new Thread("erasure-7"), new IllegalStateException("not fatal"));
        assertThat(halted).isEmpty();
        h.uncaughtException(new Thread("erasure-7"), new OutOfMemoryError("Java heap space"));
        assertThat(halted).containsExactly(70);
        assertThat(err.toString()).hasLineCount(1).startsWith("cio-erasure: out of memory (this JVM may use at most ")
                .contains("(thread erasure-7); exiting so that the supervisor restarts the worker");
    }

    @Test
    void anyOtherEndIsAnInternalErrorThatNamesTheException() {
        Errors.UserError e = WorkerCommand.whyTheLoopEnded(new IllegalStateException("broken"), settings());
        assertThat(e.exitCode()).isEqualTo(Errors.SOFTWARE);
        assertThat(e.getMessage()).isEqualTo("the consumer loop ended unexpectedly (java.lang.IllegalStateException: broken);"
                + " exiting so that the supervisor restarts the worker");
        assertThat(WorkerCommand.whyTheLoopEnded(null, settings()).exitCode()).isEqualTo(Errors.SOFTWARE);
    }
}
