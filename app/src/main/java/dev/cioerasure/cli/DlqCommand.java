package dev.cioerasure.cli;

import static dev.cioerasure.kafka.TopicHeaders.shown;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.request.Rejection;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = {"Inspect and replay the dead-letter topic (<ERASURE_TOPIC>.dlq).",
                "Shows headers only: why, when, which request, where it came from; never the message body (it holds personal"
                        + " data)."},
        subcommands = {DlqCommand.List.class, DlqCommand.Replay.class})
final class DlqCommand {

    static Settings.Kafka kafka() {
        return SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.KAFKA)).kafka();
    }

    /** The original coordinates ({@code topic-partition@offset}), or {@code ?} when the headers are missing or malformed. */
    static String origin(Optional<TopicHeaders.Origin> record) {
        return record.map(TopicHeaders.Origin::toString).orElse("?");
    }

    /** The reason, with a note when the record on the DLQ is a cut copy. */
    static String reasonOf(ConsumerRecord<byte[], byte[]> r) {
        String reason = shown(r.headers(), TopicHeaders.REASON);
        String cut = shown(r.headers(), TopicHeaders.CUT);
        if (cut.isEmpty()) {
            return reason;
        }
        return reason + " [cut copy: " + cut + " not kept; original value " + nz(shown(r.headers(), TopicHeaders.ORIGINAL_VALUE_SIZE))
                + " bytes, sha256 " + nz(shown(r.headers(), TopicHeaders.ORIGINAL_VALUE_SHA256)) + "]";
    }

    /**
     * Where the requests behind dead letters or parked records stand now, from the audit table
     * (view erasure_request_status), when DATABASE_URL is set; unknown otherwise.
     */
    static final class States {
        private final Map<String, String> status;
        /** What the table says of the original records' own persons, by record (only those it says something of). */
        private final Map<dev.cioerasure.audit.AuditEvent.KafkaCoordinates, dev.cioerasure.audit.AuditQueries.RecordPerson> persons;
        private final boolean known;

        States(Map<String, String> status,
               Map<dev.cioerasure.audit.AuditEvent.KafkaCoordinates, dev.cioerasure.audit.AuditQueries.RecordPerson> persons, boolean known) {
            this.status = status;
            this.persons = persons;
            this.known = known;
        }

        static States of(java.util.Collection<String> requestIds, java.util.Collection<dev.cioerasure.audit.AuditEvent.KafkaCoordinates> records)
                throws java.sql.SQLException {
            try (Lookup lookup = Lookup.open()) {
                return lookup.states(requestIds, records);
            }
        }

        /** The audit table, open for several look-ups, when DATABASE_URL is set; states unknown otherwise. */
        static final class Lookup implements AutoCloseable {
            private final com.zaxxer.hikari.HikariDataSource dataSource;

            private Lookup(com.zaxxer.hikari.HikariDataSource dataSource) {
                this.dataSource = dataSource;
            }

            /** States unknown: no audit table to ask. */
            static Lookup none() {
                return new Lookup(null);
            }

            static Lookup open() {
                String url = Main.environment().get("DATABASE_URL");
                if (url == null || url.isBlank()) {
                    return none();
                }
                Settings.Database db = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.DATABASE)).database();
                return new Lookup(AuditCommand.connected(db));
            }

            boolean known() {
                return dataSource != null;
            }

            /** @param records the original records behind the lines, whose own person is compared with the completion's */
            States states(java.util.Collection<String> requestIds, java.util.Collection<dev.cioerasure.audit.AuditEvent.KafkaCoordinates> records)
                    throws java.sql.SQLException {
                if (dataSource == null) {
                    return new States(Map.of(), Map.of(), false);
                }
                dev.cioerasure.audit.AuditQueries q = new dev.cioerasure.audit.AuditQueries(dataSource);
                return new States(q.statusOf(requestIds), q.personOfRecords(records), true);
            }

            @Override
            public void close() {
                if (dataSource != null) {
                    dataSource.close();
                }
            }
        }

        boolean known() {
            return known;
        }

        /** The request's status (erasure_request_status), null when it has none or it is unknown. */
        String status(String requestId) {
            return status.get(requestId);
        }

        /** Erased (COMPLETED), or closed without erasure by a recorded decision (CLOSED, the command {@code close}). */
        boolean resolved(String requestId) {
            String st = status.get(requestId);
            return "COMPLETED".equals(st) || "CLOSED".equals(st);
        }

        /**
         * The original record's request id was completed for another identifier than the record's:
         * its person was not erased, whatever the request's status says (records of one id for two
         * persons that ran at once in two instances).
         */
        boolean completedForAnother(Optional<TopicHeaders.Origin> record) {
            return person(record).map(dev.cioerasure.audit.AuditQueries.RecordPerson::completedForAnother).orElse(false);
        }

        /**
         * The request id under which the original record's person was erased after it, under an id
         * of their own (null when they were not): what resolves a record of another person's request
         * id, which no status of that id can.
         */
        String erasedSince(Optional<TopicHeaders.Origin> record) {
            return person(record).map(dev.cioerasure.audit.AuditQueries.RecordPerson::erasedSince).orElse(null);
        }

        private Optional<dev.cioerasure.audit.AuditQueries.RecordPerson> person(Optional<TopicHeaders.Origin> record) {
            return record.map(o -> persons.get(coordinates(o)));
        }

        /**
         * The state of a record whose request id is another person's ({@code REQUEST_ID_REUSED}, or
         * completed for another identifier while it ran): erased since under an id of its own, or not.
         */
        String describeAnother(Optional<TopicHeaders.Origin> record) {
            String since = erasedSince(record);
            // the id comes from the audit table, where the writer role can put any text: shown as text
            return since == null ? "not erased (id reused)" : "erased since as " + AuditCommand.shown(since);
        }

        /**
         * {@code resolved}, {@code closed without erasure}, {@code open (STATUS)}, {@code ?} without the
         * audit table, {@code -} without a request id.
         */
        String describe(String requestId) {
            if (!known) {
                return "?";
            }
            if (requestId == null || requestId.isEmpty() || requestId.equals("?")) {
                return "-";
            }
            String st = status.get(requestId);
            return st == null ? "open (no outcome)" : "CLOSED".equals(st) ? "closed without erasure" : resolved(requestId) ? "resolved"
                    : "open (" + st + ")";
        }

        static dev.cioerasure.audit.AuditEvent.KafkaCoordinates coordinates(TopicHeaders.Origin o) {
            return new dev.cioerasure.audit.AuditEvent.KafkaCoordinates(o.topic(), o.partition(), o.offset());
        }

        static final String NOTE = "(state unknown: set DATABASE_URL, DATABASE_USER and DATABASE_PASSWORD to see whether each"
                + " request was resolved since)";
    }

    /**
     * For a --reason that matched nothing (a typo, or a code from another release): which codes
     * the DLQ holds, so the operator does not take "nothing" for "done".
     */
    static String codesOnTheDlq(String reason, Map<String, Integer> codes) {
        return "no dead-lettered record has reason code " + reason + "; the codes on the DLQ: "
                + (codes.isEmpty() ? "none" : codes.entrySet().stream().map(e -> e.getKey() + " (" + e.getValue() + ")")
                        .collect(java.util.stream.Collectors.joining(", ")));
    }

    private static void count(Map<String, Integer> codes, ConsumerRecord<byte[], byte[]> r) {
        String code = shown(r.headers(), TopicHeaders.REASON_CODE);
        codes.merge(code.isEmpty() ? "-" : code, 1, Integer::sum);
    }

    static boolean matches(ConsumerRecord<byte[], byte[]> r, Set<String> requestIds, String reason) {
        return (requestIds.isEmpty() || requestIds.contains(shown(r.headers(), TopicHeaders.REQUEST_ID)))
                && (reason == null || reason.equalsIgnoreCase(shown(r.headers(), TopicHeaders.REASON_CODE)));
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List dead-lettered records, oldest first per partition.")
    static final class List implements Callable<Integer> {
        @Option(names = "--reason", paramLabel = "CODE", description = "Only this reason code, e.g. UNKNOWN_FIELD, RETRIES_EXHAUSTED.")
        String reason;

        @Option(names = "--request-id", paramLabel = "ID", description = "Only these request ids (repeatable).")
        Set<String> requestIds = Set.of();

        @Override
        public Integer call() throws Exception {
            requestIds.forEach(id -> Errors.requestIdArgument("--request-id", id));
            Settings.Kafka k = kafka();
            record Line(String at, String when, String code, String requestId, Optional<TopicHeaders.Origin> record, String reason) { }
            Map<String, Integer> codes = new java.util.TreeMap<>();
            String fmt = "%-14s %-20s %-18s %-24s %-22s %-28s %s%n";
            long[] resolved = {0};
            try (StatePages<Line> pages = StatePages.open(Line::requestId, Line::record, (l, states) -> {
                // the request id's state is another identifier's: this record's person is erased only if since, under an id of their own
                boolean another = REUSED.equals(l.code()) || states.completedForAnother(l.record());
                System.out.printf(fmt, l.at(), l.when(), l.code(), nz(l.requestId()), another ? states.describeAnother(l.record())
                        : states.describe(l.requestId()), origin(l.record()), l.reason());
                resolved[0] += (another ? states.erasedSince(l.record()) != null : states.resolved(l.requestId())) ? 1 : 0;
            })) {
                TopicReader.readAll(k, k.dlqTopic(), () -> System.out.printf(fmt, "dlq record", "dead-lettered at", "reason code",
                        "request id", "state now", "original record", "reason"), r -> {
                    count(codes, r);
                    if (matches(r, requestIds, reason)) {
                        pages.add(new Line(r.partition() + "@" + r.offset(), Instant.ofEpochMilli(r.timestamp()).toString().substring(0, 19),
                                nz(shown(r.headers(), TopicHeaders.REASON_CODE)), shown(r.headers(), TopicHeaders.REQUEST_ID),
                                TopicHeaders.Origin.of(r.headers()), reasonOf(r)));
                    }
                });
                pages.finish();
                System.out.println(pages.lines() + " record(s)"
                        + (pages.known() ? "; " + resolved[0] + " resolved since (COMPLETED, or CLOSED without erasure)" : " " + States.NOTE));
                if (pages.lines() == 0 && reason != null) {
                    System.err.println("cio-erasure: " + codesOnTheDlq(reason, codes));
                }
            } catch (StatePages.LookupFailed e) {
                throw (java.sql.SQLException) e.getCause();
            }
            return 0;
        }
    }

    static final class Selection {
        @Option(names = "--request-id", paramLabel = "ID", required = true, description = "Replay the records of these request ids (repeatable).")
        Set<String> requestIds;

        @Option(names = "--reason", paramLabel = "CODE", required = true, description = "Replay every record with this reason code.")
        String reason;

        @Option(names = "--all", required = true, description = "Replay every record on the DLQ.")
        boolean all;
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {"Publish dead-lettered records to the retry topic (<ERASURE_TOPIC>.retry), due at once.",
                    "Key and value unchanged, marked as a replay (a FAILED request may then be tried again; a COMPLETED"
                            + " one is recorded as DUPLICATE). Fix the cause first (credentials, a workspace missing from the"
                            + " configuration). A record rejected for its content (MALFORMED_JSON, UNKNOWN_FIELD, …) is skipped:"
                            + " replayed unchanged it is rejected again; resubmit it corrected from its source."
                            + " A cut copy (its value was too large to keep) cannot be replayed: resubmit it from its source."})
    static final class Replay implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Selection selection;

        @Option(names = "--dry-run", description = "Show what would be replayed, publish nothing.")
        boolean dryRun;

        @Option(names = "--force", description = "Replay every matching record: also those whose request is already resolved (COMPLETED:"
                + " the worker records them as DUPLICATE; or CLOSED without erasure: the worker processes them again), and those rejected for their content (they come back REJECTED).")
        boolean force;

        @Override
        public Integer call() throws Exception {
            Settings.Kafka k = kafka();
            Set<String> ids = selection.requestIds == null ? Set.of() : selection.requestIds;
            ids.forEach(id -> Errors.requestIdArgument("--request-id", id));
            // First pass: which records, by coordinates only; the second sends them, so that memory
            // does not grow with their bodies (a DLQ may hold a whole bulk purge after a long outage).
            java.util.List<Chosen> chosen = new ArrayList<>();
            int[] cut = {0};
            Map<String, Integer> codes = new java.util.TreeMap<>();
            TopicReader.readAll(k, k.dlqTopic(), r -> {
                count(codes, r);
                if (selection.all || matches(r, ids, selection.reason)) {
                    if (r.value() == null) {
                        cut[0]++;
                    } else {
                        chosen.add(new Chosen(r.partition(), r.offset(), shown(r.headers(), TopicHeaders.REQUEST_ID),
                                shown(r.headers(), TopicHeaders.REASON_CODE), TopicHeaders.Origin.of(r.headers())));
                    }
                }
            });
            int matched = chosen.size();
            States states = States.of(chosen.stream().map(Chosen::requestId).filter(id -> !id.isEmpty()).distinct().toList(),
                    chosen.stream().map(Chosen::record).flatMap(Optional::stream).map(States::coordinates).distinct().toList());
            if (!states.known() && !chosen.isEmpty()) {
                System.err.println("cio-erasure: " + States.NOTE.substring(1, States.NOTE.length() - 1)
                        + "; every matching record is replayed, resolved or not");
            } else if (!force) {
                // replayed, the worker would reject these REQUEST_ID_REUSED: the id is another person's now;
                // some may have been erased since, under an id of their own
                java.util.List<Chosen> another = chosen.stream()
                        .filter(c -> states.completedForAnother(c.record()) && !REUSED.equals(c.reasonCode())).toList();
                chosen.removeAll(another);
                long since = another.stream().filter(c -> states.erasedSince(c.record()) != null).count();
                if (another.size() > since) {
                    System.err.println("cio-erasure: skipped " + (another.size() - since) + " record(s) whose request id was completed"
                            + " for another identifier while they were processed: not erased; replayed they would be rejected"
                            + " REQUEST_ID_REUSED, so submit each under a request id of its own");
                }
                if (since > 0) {
                    System.err.println("cio-erasure: skipped " + since + " record(s) whose request id was completed for another"
                            + " identifier while they were processed, and whose person was erased since under a request id of their own");
                }
                int before = chosen.size();
                chosen.removeIf(c -> states.resolved(c.requestId()) && !REUSED.equals(c.reasonCode())); // those: below
                if (chosen.size() < before) {
                    System.err.println("cio-erasure: skipped " + (before - chosen.size()) + " record(s) whose request is already"
                            + " resolved (COMPLETED, or CLOSED without erasure); --force replays them anyway");
                }
            }
            if (!force) {
                skipRejectedForTheirContent(chosen);
            }
            skipCopiesOfTheSameRecord(chosen);
            if (cut[0] > 0) {
                System.err.println("cio-erasure: " + cut[0] + " matching record(s) are cut copies without their value;"
                        + " they cannot be replayed (resubmit them from their source)");
            }
            if (chosen.isEmpty()) {
                if (selection.reason != null && cut[0] == 0 && !codes.containsKey(selection.reason.toUpperCase(java.util.Locale.ROOT))) {
                    System.err.println("cio-erasure: " + codesOnTheDlq(selection.reason, codes));
                }
                System.err.println("cio-erasure: " + (matched > 0 ? "nothing left to replay" : "no dead-lettered record matches; nothing replayed"));
                return 1;
            }
            if (dryRun) {
                chosen.forEach(c -> System.out.printf("would replay %d@%d (request %s, %s)%n", c.partition(), c.offset(),
                        nz(c.requestId()), c.reasonCode()));
                System.out.println(chosen.size() + " record(s) would be replayed to " + k.retryTopic());
                return 0;
            }
            dev.cioerasure.preflight.Preflight.kafkaWrite(k, java.time.Duration.ofSeconds(15), java.util.List.of(k.retryTopic()),
                    "ERASURE_TOPIC");
            java.util.Set<Long> wanted = new java.util.HashSet<>();
            chosen.forEach(c -> wanted.add(Chosen.key(c.partition(), c.offset())));
            java.util.List<String> notReplayed = java.util.Collections.synchronizedList(new ArrayList<>());
            boolean[] allTimedOut = {true};
            int[] found = {0};
            // a DLQ that holds a bulk purge takes a while: progress on stderr after 2 s
            ProgressBar progress = new ProgressBar(chosen.size(), "replayed", 2_000_000_000L);
            try (Producer<byte[], byte[]> producer = new KafkaClients(k).producer("cio-erasure-dlq-replay", Map.of())) {
                TopicReader.readAll(k, k.dlqTopic(), r -> {
                    if (r.value() == null || !wanted.remove(Chosen.key(r.partition(), r.offset()))) {
                        return;
                    }
                    found[0]++;
                    progress.update(found[0]);
                    // The retry topic is the worker's (only it and this command may write there), so the
                    // worker trusts the replay marker and the first origin carried over here.
                    ProducerRecord<byte[], byte[]> out = new ProducerRecord<>(k.retryTopic(), null, r.key(), r.value(),
                            TopicHeaders.forReplay(r.headers(), k.dlqTopic(), r.partition(), r.offset()));
                    String what = r.partition() + "@" + r.offset() + " (request " + nz(shown(r.headers(), TopicHeaders.REQUEST_ID)) + ")";
                    producer.send(out, (md, e) -> {
                        if (e != null) {
                            // the others go on: one record the retry topic refuses does not hold back the rest
                            synchronized (allTimedOut) {
                                allTimedOut[0] &= e instanceof org.apache.kafka.common.errors.TimeoutException;
                            }
                            notReplayed.add(what + ": " + Errors.kafkaRefusal(e));
                        }
                    });
                });
                producer.flush();
            }
            progress.done();
            // gone between the two reads (the DLQ's retention): not replayed, said so
            chosen.stream().filter(c -> wanted.contains(Chosen.key(c.partition(), c.offset())))
                    .forEach(c -> notReplayed.add(c.partition() + "@" + c.offset() + " (request " + nz(c.requestId())
                            + "): no longer on the DLQ"));
            System.out.println((chosen.size() - notReplayed.size()) + " record(s) replayed to " + k.retryTopic());
            if (!notReplayed.isEmpty()) {
                System.err.println("cio-erasure: " + notReplayed.size() + " of " + chosen.size() + " record(s) were not replayed; they"
                        + " stay on the DLQ:");
                notReplayed.stream().limit(20).forEach(l -> System.err.println("  " + l));
                if (notReplayed.size() > 20) {
                    System.err.println("  … and " + (notReplayed.size() - 20) + " more");
                }
                return allTimedOut[0] && found[0] == chosen.size() ? Errors.UNAVAILABLE : 1;
            }
            return 0;
        }
    }

    /** A record rejected since its request id has a final outcome for another identifier: the id's state is not the record's. */
    static final String REUSED = Rejection.Code.REQUEST_ID_REUSED.name();

    /**
     * Rejection codes a replay cannot mend: the body is replayed unchanged, so it is rejected again.
     * {@code INVALID_VALUE} is not one: a workspace added to the configuration, or a clock put
     * right, can make such a request valid.
     */
    static final Set<String> CONTENT_REJECTIONS = java.util.Arrays.stream(Rejection.Code.values())
            .filter(c -> c != Rejection.Code.INVALID_VALUE).map(Enum::name).collect(java.util.stream.Collectors.toUnmodifiableSet());

    /** Removes the records rejected for their content and says so. */
    static void skipRejectedForTheirContent(java.util.List<Chosen> chosen) {
        Map<String, Integer> codes = new java.util.TreeMap<>();
        chosen.removeIf(c -> {
            if (CONTENT_REJECTIONS.contains(c.reasonCode())) {
                codes.merge(c.reasonCode(), 1, Integer::sum);
                return true;
            }
            return false;
        });
        int skipped = codes.values().stream().mapToInt(Integer::intValue).sum();
        if (skipped > 0) {
            System.err.println("cio-erasure: skipped " + skipped + " record(s) rejected for their content (" + codes.entrySet().stream()
                    .map(e -> e.getKey() + " " + e.getValue()).collect(java.util.stream.Collectors.joining(", "))
                    + "): replayed unchanged they would be rejected again; resubmit them corrected from their source"
                    + " (--force replays them anyway)");
        }
    }

    /**
     * A record dead-lettered more than once (redone after a restart before its offset was
     * committed, or failed again after a replay) has a copy on the DLQ for each time, all with
     * its content: one is replayed, the first. Each copy was replayed, and the request processed
     * once more for each (a DUPLICATE row each time, and a count of replays that was not one of records).
     */
    private static void skipCopiesOfTheSameRecord(java.util.List<Chosen> chosen) {
        Set<String> origins = new java.util.HashSet<>();
        int before = chosen.size();
        chosen.removeIf(c -> !c.origin().equals("?") && !origins.add(c.origin()));
        if (chosen.size() < before) {
            System.err.println("cio-erasure: skipped " + (before - chosen.size()) + " more copy(ies) of record(s) dead-lettered more"
                    + " than once (a restart redid them, or a replay failed again): each original record is replayed once");
        }
    }

    /**
     * A dead-lettered record chosen for replay, by its coordinates (its body is read again when it is sent).
     *
     * @param record the original record, when its headers name it (compared by {@link States#completedForAnother})
     */
    record Chosen(int partition, long offset, String requestId, String reasonCode, Optional<TopicHeaders.Origin> record) {
        /** The original record's coordinates ({@code topic-partition@offset}), {@code ?} when unknown. */
        String origin() {
            return DlqCommand.origin(record);
        }

        /** Partition and offset in one long (offsets stay far below 2^48). */
        static long key(int partition, long offset) {
            return ((long) partition << 48) | offset;
        }
    }

    static String nz(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }
}
