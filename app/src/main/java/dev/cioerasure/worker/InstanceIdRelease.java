package dev.cioerasure.worker;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits, before a worker joins its group under Kafka's consumer group protocol (KIP-848), until
 * the group no longer holds the worker's {@code WORKER_INSTANCE_ID} for another member.
 *
 * <p>Under that protocol a static member's id stays the group's until the member leaves or its
 * session times out (the broker's {@code group.consumer.session.timeout.ms}, 45 s by default; at
 * most 60 s unless the broker allows more). A worker killed and started again under its id is
 * refused meanwhile ({@code UnreleasedInstanceIdException}): measured by hand, 45 s after a kill
 * -9, and at once after a clean stop. Under the classic protocol it takes its own place at once
 * (fencing the old member), so this is used for the consumer protocol only. An id still held after
 * {@link #LONGEST} is another running instance's: a configuration error, {@link Held}.
 */
public final class InstanceIdRelease {
    private static final Logger log = LoggerFactory.getLogger(InstanceIdRelease.class);
    /** Longer than any session the broker allows by default (60 s). */
    static final Duration LONGEST = Duration.ofSeconds(90);
    static final Duration ASK_EVERY = Duration.ofSeconds(2);

    /** Whether the group holds the id for a member now; false when the group cannot be asked (the join then says). */
    interface Group {
        boolean holds(String instanceId);
    }

    /** Another member kept the id for longer than {@link #LONGEST}: two instances share it. */
    public static final class Held extends RuntimeException {
        public Held(String message) {
            super(message, null, false, false);
        }
    }

    private final Group group;
    private final String groupId;
    private final String instanceId;
    private final Clock clock;
    private final Duration longest;
    private final Duration askEvery;

    InstanceIdRelease(Group group, String groupId, String instanceId, Clock clock) {
        this(group, groupId, instanceId, clock, LONGEST, ASK_EVERY);
    }

    InstanceIdRelease(Group group, String groupId, String instanceId, Clock clock, Duration longest, Duration askEvery) {
        this.group = group;
        this.groupId = groupId;
        this.instanceId = instanceId;
        this.clock = clock;
        this.longest = longest;
        this.askEvery = askEvery;
    }

    /** What a worker whose id the group holds for another member says, now and when it gives up. */
    public static String heldMessage(String groupId, String instanceId) {
        return "consumer group " + groupId + " holds WORKER_INSTANCE_ID '" + instanceId + "' for another member (group.protocol=consumer):"
                + " another worker runs with this id, or this instance's last run ended without leaving the group (killed), and the"
                + " group keeps its id until that session times out (group.consumer.session.timeout.ms, 45 s by default)";
    }

    /**
     * Returns true once the group does not hold the id, false when {@code running} turns false
     * first; meanwhile {@code waiting} gets the reason (null once it is over).
     *
     * @throws Held when the id is still held after {@link #LONGEST}
     */
    boolean await(BooleanSupplier running, Consumer<String> waiting) throws InterruptedException {
        Instant start = clock.instant();
        boolean said = false;
        try {
            while (running.getAsBoolean() && group.holds(instanceId)) {
                Duration waited = Duration.between(start, clock.instant());
                if (waited.compareTo(longest) >= 0) {
                    throw new Held(heldMessage(groupId, instanceId) + "; it was still held after " + waited.toSeconds()
                            + " s: give every instance its own WORKER_INSTANCE_ID");
                }
                if (!said) {
                    log.warn("{}; waiting up to {} s for it to be released before joining", heldMessage(groupId, instanceId),
                            longest.toSeconds());
                    said = true;
                }
                waiting.accept("waiting for consumer group " + groupId + " to release WORKER_INSTANCE_ID '" + instanceId
                        + "', held for a member that has not left (" + waited.toSeconds() + " s so far)");
                Thread.sleep(askEvery.toMillis());
            }
            if (said && running.getAsBoolean()) {
                log.info("consumer group {} released WORKER_INSTANCE_ID '{}' after {} s; joining", groupId, instanceId,
                        Duration.between(start, clock.instant()).toSeconds());
            }
            return running.getAsBoolean();
        } finally {
            waiting.accept(null);
        }
    }
}
