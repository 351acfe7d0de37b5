package dev.cioerasure.metrics;

/**
 * Every metric this project defines, in one place. Micrometer names (dots) become Prometheus
 * names with {@code _total}/{@code _seconds} suffixes. Tags are low-cardinality only: never an
 * identifier, request id or anything from a message.
 */
public final class MetricNames {
    private MetricNames() { }

    /** Counter, tag {@code outcome}: final outcomes per request → {@code erasure_requests_total}. */
    public static final String REQUESTS = "erasure.requests";
    /** Timer, tags {@code operation}, {@code status}: every Track API attempt → {@code erasure_track_call_seconds}. */
    public static final String TRACK_CALLS = "erasure.track.call";
    /** Track v2 batch requests (CUSTOMERIO_TRACK_API=batch) by status, and the items of each. */
    public static final String TRACK_BATCHES = "erasure.track.batch";
    public static final String TRACK_BATCH_ITEMS = "erasure.track.batch.items";
    /** Timer: time a Track call waited for the rate limiter → {@code erasure_ratelimiter_wait_seconds}. */
    public static final String RATE_LIMITER_WAIT = "erasure.ratelimiter.wait";
    /** Timer, tag {@code outcome}: from the record's arrival to its audit row being durable. */
    public static final String PROCESSING = "erasure.processing";
    /** Timer: from the record's Kafka timestamp to its audit row being durable. */
    public static final String END_TO_END = "erasure.end.to.end";
    /** Gauge: records taken from Kafka whose outcome is not yet durable. */
    public static final String IN_FLIGHT = "erasure.in.flight";
    /** Timer: one audit batch insert and commit → {@code erasure_audit_write_seconds}. */
    public static final String AUDIT_WRITE = "erasure.audit.write";
    /** Distribution summary: rows per audit batch. */
    public static final String AUDIT_BATCH_ROWS = "erasure.audit.batch.rows";
    /** Counter: audit batches that failed and are being retried (database unavailable). */
    public static final String AUDIT_WRITE_FAILURES = "erasure.audit.write.failures";
    /** Signed checkpoints of the audit chain published, by where and result (ok, failed). */
    public static final String AUDIT_CHECKPOINTS = "erasure.audit.checkpoints";
    /** Counter, tag {@code reason}: records sent to the dead-letter topic. */
    public static final String DLQ = "erasure.dlq";
    /** Counter, tag {@code topic} (dlq, retry): records moved as a cut copy because the whole one was refused for good. */
    public static final String REPUBLISH_CUT = "erasure.republish.cut";
    /** Counter, tag {@code topic}: offsets the topic's retention deleted before the group processed them. Alert on it. */
    public static final String EXPIRED = "erasure.requests.expired";
    /** Counter, tag {@code topic}: offsets of the request topic the group's committed offset passed without an outcome row. Alert on it. */
    public static final String SKIPPED = "erasure.requests.skipped";
    /** Counter, tag {@code topic}: records not copied at all (even the cut copy refused). Alert on it. */
    public static final String REPUBLISH_GIVEN_UP = "erasure.republish.given.up";
    /** Gauge: age in seconds of the oldest record taken whose outcome is not yet durable (0 when none). */
    public static final String OLDEST_IN_FLIGHT_AGE = "erasure.in.flight.oldest.age.seconds";
    /** Gauge, tags {@code topic}, {@code partition}: the group's backlog (log-end minus committed offset). */
    public static final String BACKLOG = "erasure.backlog.records";
    /** Gauge: age in seconds of the oldest request waiting in the request topic; 0 when none waits. */
    public static final String BACKLOG_OLDEST_AGE = "erasure.backlog.oldest.age.seconds";
    /** Records of the request topic the group cannot read yet: in or behind a transaction still open. */
    public static final String BACKLOG_UNCOMMITTED = "erasure.backlog.uncommitted";
    /** Gauge, tags {@code version}, {@code java}, {@code kafka_clients}: always 1. */
    public static final String BUILD_INFO = "erasure.build.info";
    /** Counter: times a 429 lowered this instance's Track rate by 10 % (it recovers by 5 % per 5 s without one). */
    public static final String RATE_BACKOFFS = "erasure.ratelimit.backoffs";
    /** Gauge: Track calls per second this instance may make (its share of the group's limit). */
    public static final String RATE_LIMIT = "erasure.ratelimit.calls.per.second";
    /** Gauge: retry-topic records held in memory until their retry round is due. */
    public static final String RETRY_PARKED = "erasure.retry.parked";
    /** Gauge: age in seconds of the oldest request not yet erased (parked, failed or rejected). */
    public static final String OLDEST_OPEN_AGE = "erasure.open.oldest.age.seconds";
    public static final String CLOCK_SKEW = "erasure.clock.skew.seconds";
    /** Gauge: requests not yet erased whose regulation deadline has passed. */
    public static final String OVERDUE = "erasure.open.overdue";
    /** Gauge: requests not yet erased. */
    public static final String OPEN = "erasure.open";
    /** Counter, tags {@code endpoint}, {@code status}: HTTP intake requests. */
    public static final String INTAKE = "erasure.intake.requests";
    /** Gauge: 1 while the intake can publish (Kafka answers, the topic exists), else 0: it answers signed requests 503. */
    public static final String INTAKE_READY = "erasure.intake.ready";
    /** Gauge: 1 while the worker is ready (assigned, database reachable), else 0. */
    public static final String READY = "erasure.ready";
    /** Gauge: seconds since the Track API key file was last written (rotated); NaN for a key from a variable. */
    public static final String CREDENTIALS_AGE = "erasure.credentials.age";
    /** Gauge: 1 while the Track credentials are being refused (401/403), else 0. Alert on it. */
    public static final String CREDENTIALS_REJECTED = "erasure.credentials.rejected";
    /** Gauge 0/1 per workspace: the App API refuses the App API key → {@code erasure_app_credentials_rejected}. */
    public static final String APP_CREDENTIALS_REJECTED = "erasure.app.credentials.rejected";
    /**
     * Gauge 0/1 per workspace: the App API key does not find the control person
     * (CUSTOMERIO_APP_CONTROL_PERSON_ID) → {@code erasure_app_control_person_missing}.
     */
    public static final String APP_CONTROL_PERSON_MISSING = "erasure.app.control.person.missing";

    /** Timer, tag {@code status}: every App API look-up attempt → {@code erasure_app_call_seconds}. */
    public static final String APP_CALLS = "erasure.app.call";
    /** Counter, tag {@code outcome} (VERIFIED, STILL_PRESENT, UNVERIFIABLE): verification results → {@code erasure_verifications_total}. */
    public static final String VERIFICATIONS = "erasure.verifications";
    /** Counter, tag {@code result} (gone, present, error): checks made, each possibly several App API attempts. */
    public static final String VERIFICATION_CHECKS = "erasure.verification.checks";
    /** Gauge: verification records this instance holds until their next check is due, or is checking. */
    public static final String VERIFICATION_PENDING = "erasure.verification.pending";
    /** Gauge: App API look-ups per second this instance may make (its share of the group's App API limit). */
    public static final String APP_RATE_LIMIT = "erasure.app.ratelimit.calls.per.second";
}
