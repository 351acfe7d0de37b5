package dev.cioerasure.cli;

import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.submit.RequestFile;
import dev.cioerasure.submit.Submitter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "submit", mixinStandardHelpOptions = true,
        description = {"Publish deletion requests from a file (CSV or NDJSON).",
                "CSV with a header row"
                        + " (request_id,identifier_type,identifier,regulation,requested_at,requested_by,workspaces; request_id,"
                        + " requested_at and workspaces optional) or NDJSON (one request message per line). Every row is"
                        + " validated first: if any is bad, the bad lines are listed and nothing is sent. Missing request ids"
                        + " are generated (stable per person, regulation, requested_by, requested_at and workspaces: the same row"
                        + " gets the same id, so a re-run erases nobody twice; a new ticket or date is a new request). After Kafka"
                        + " has acknowledged them, the requests with their ids are written to --out (default"
                        + " <file>.submitted.<ext>), which also records what was sent: rows already in it are not sent again"
                        + " unless you say so. Stopped by a signal (Ctrl-C) while sending, it records what Kafka acknowledged"
                        + " and says how many were sent; --skip-submitted sends the rest. Needs KAFKA_BOOTSTRAP_SERVERS and"
                        + " AUDIT_SUBJECT_KEY (the record key is the subject's keyed hash)."})
final class SubmitCommand implements Callable<Integer> {
    @Option(names = "--file", paramLabel = "F", required = true, description = "The CSV or NDJSON file.")
    Path file;

    @Option(names = "--format", paramLabel = "FMT", description = "csv or ndjson (default: from the file name; .ndjson/.jsonl/.json are NDJSON).")
    String format;

    @Option(names = "--out", paramLabel = "F", description = "Where to write the requests with their ids (default: <file>.submitted.<ext>).")
    Path out;

    @Option(names = "--dry-run", description = "Validate and report only; send and write nothing.")
    boolean dryRun;

    @Option(names = "--resubmit", description = "Send rows already submitted (listed in --out) again; the worker records them as DUPLICATE.")
    boolean resubmit;

    @Option(names = "--skip-submitted", description = "Send only the rows not yet submitted (not listed in --out).")
    boolean skipSubmitted;

    /**
     * Why the record of submissions cannot be written where it is to go, or null when it can. It is
     * written after Kafka acknowledged the requests (a temporary file beside it, then renamed): found
     * only then, the requests were sent and their record lost (exit 70).
     */
    static String unwritableRecord(Path target) {
        String unwritable = Errors.unwritableFile(target);
        if (unwritable == null && Files.exists(target) && !Files.isReadable(target)) {
            return "not readable by this user"; // it is read for the rows submitted before
        }
        return unwritable;
    }

    @Override
    public Integer call() throws Exception {
        String unusable = Errors.unusableFile(file, "a file of requests");
        if (unusable != null) {
            throw new Errors.UserError("--file " + file + ": " + unusable, 2);
        }
        if (!Files.isRegularFile(file)) {
            // read thrice: a pipe (bash's <(...)) was empty on the second reading, and submit said the file was empty
            throw new Errors.UserError("--file " + file + ": not a regular file (a pipe or a device): submit reads the file once"
                    + " to check it, once to send it and once to record it; save it to a file first", 2);
        }
        RequestFile.Format fmt;
        if (format == null) {
            fmt = RequestFile.formatOf(file);
        } else {
            try {
                fmt = RequestFile.Format.valueOf(format.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new Errors.UserError("--format must be csv or ndjson", 2);
            }
        }
        Settings s = SettingsLoader.load(Main.environment(), dryRun ? EnumSet.of(SettingsLoader.Part.AUDIT)
                : EnumSet.of(SettingsLoader.Part.KAFKA, SettingsLoader.Part.AUDIT));
        Submitter submitter = new Submitter(new SubjectHasher(s.audit().subjectKey()), Clock.systemUTC());
        if (resubmit && skipSubmitted) {
            throw new Errors.UserError("--resubmit and --skip-submitted exclude each other", 2);
        }
        Path target = out != null ? out : defaultOut(file, fmt);
        if (Files.exists(target) && Files.isSameFile(target, file)) {
            // the record would replace the file of requests with itself plus ids, and a second run would find every row "already submitted"
            throw new Errors.UserError("--out " + target + ": is the file of requests itself; name another file for the record"
                    + " of what was sent; nothing was sent", 2);
        }
        String unwritable = dryRun ? null : unwritableRecord(target);
        if (unwritable != null) {
            throw new Errors.UserError((out != null ? "--out " : "the record of submissions ") + target + ": " + unwritable
                    + "; nothing was sent" + (out != null ? "" : " (name another place with --out)"), 2);
        }
        Ledger ledger = Ledger.read(target, fmt);
        // First pass: every row is checked before anything is sent; only counts and the first problems are kept.
        Survey survey = Survey.of(file, fmt, submitter, ledger); // the request ids it kept for the check are let go
        if (survey.problems > 0) {
            System.err.println("cio-erasure: " + survey.problems + " of " + survey.rows + " row(s) in " + file
                    + " are invalid; nothing was sent:");
            survey.firstProblems.forEach(p -> System.err.println("  " + p));
            if (survey.problems > survey.firstProblems.size()) {
                System.err.println("  … and " + (survey.problems - survey.firstProblems.size()) + " more");
            }
            return 1;
        }
        if (survey.valid == 0) {
            throw new Errors.UserError(file + " holds no requests", 1);
        }
        int toSend = survey.valid;
        if (survey.repeated > 0) {
            String already = survey.repeated + " of " + survey.valid + " row(s) were already submitted on " + ledger.writtenAt()
                    + " (their request ids are in " + target + ")";
            if (skipSubmitted) {
                toSend = survey.valid - survey.repeated;
                System.err.println("cio-erasure: " + already + "; skipping them (--skip-submitted)");
            } else if (resubmit) {
                System.err.println("cio-erasure: " + already + "; sending them again (--resubmit): the worker records them as"
                        + " DUPLICATE and erases nobody twice");
            } else {
                System.err.println("cio-erasure: " + already + ". Nothing was sent. The worker would record them as DUPLICATE"
                        + " and erase nobody twice; a new request for the same person needs a new ticket (requested_by),"
                        + " date (requested_at) or request_id. " + (survey.repeated == survey.valid ? "Every row was; re-run with"
                        : "Re-run with --skip-submitted to send only the " + (survey.valid - survey.repeated) + " new row(s), or with")
                        + " --resubmit to send all " + survey.valid + " again.");
                return 1;
            }
        }
        if (toSend == 0) {
            System.out.println("nothing new to send: every row of " + file + " was already submitted");
            return 0;
        }
        if (dryRun) {
            System.out.println(toSend + " request(s) valid; nothing sent (--dry-run)"
                    + (generatedToSend(survey) > 0 ? "; " + generatedToSend(survey) + " of their ids would be generated" : ""));
            return 0;
        }
        // a principal without Write on the topic: one line before sending, not one refusal per request
        Preflight.kafkaWrite(s.kafka(), Duration.ofSeconds(15), List.of(s.kafka().topic()), "ERASURE_TOPIC");
        try (SendStop stop = new SendStop()) {
            return send(s, file, fmt, submitter, ledger, survey, target, toSend, stop);
        }
    }

    /** The second and third passes: sends the requests, then records those Kafka acknowledged. */
    private Integer send(Settings s, Path file, RequestFile.Format fmt, Submitter submitter, Ledger ledger, Survey survey, Path target,
                         int toSend, SendStop stop) throws IOException {
        int total = toSend;
        ProgressBar progress = new ProgressBar(total, "acknowledged", 0);
        long t0 = System.nanoTime();
        // Second pass: the same rows checked into the same messages, sent as they are read.
        List<Submitter.Refused> refused;
        int[] sentCount = {0};
        int[] generatedSent = {0};
        java.util.function.Predicate<String> selected = id -> !(skipSubmitted && ledger.ids().contains(id));
        IdDigest sentIds = new IdDigest();
        boolean stopped = false;
        try (Submitter.Publication publication = submitter.publication(new KafkaClients(s.kafka()), s.kafka().topic())) {
            Submitter.Pass send = submitter.reread();
            try {
                scan(file, fmt, row -> {
                    Submitter.Checked c = send.check(row);
                    if (c.message() != null && selected.test(c.requestId())) {
                        stop.check();
                        publication.send(c);
                        sentIds.add(c.requestId());
                        sentCount[0]++;
                        generatedSent[0] += c.idGenerated() ? 1 : 0;
                        progress.update(publication.acknowledged());
                    }
                });
            } catch (SendStop.Stopped e) {
                stopped = true; // the rows after it are not sent; those sent are answered for and recorded below
            }
            refused = publication.finish();
            progress.update(publication.acknowledged());
        }
        progress.done();
        double secs = (System.nanoTime() - t0) / 1e9;
        Set<String> notSent = new java.util.HashSet<>();
        refused.forEach(r -> notSent.add(r.requestId()));
        int sent = sentCount[0] - refused.size();
        // Written once Kafka has answered for every request, with those it acknowledged: the file records what was sent.
        if (sent > 0) {
            try {
                record(ledger, target, fmt, survey.named, file, submitter, selected, stopped ? sentCount[0] : Integer.MAX_VALUE, notSent,
                        sentIds.digest());
            } catch (ChangedAfterSending e) {
                System.err.println("cio-erasure: " + file + " changed after its requests were sent (" + sent + " of them acknowledged by"
                        + " Kafka): read again, it no longer tells which were sent, so " + target + " was left as it was, without"
                        + " them. Once the file stays as it is, submit it again with --resubmit: the worker records repeats as"
                        + " DUPLICATE and erases nobody twice.");
                return 1;
            }
        }
        if (stopped) {
            System.err.println("cio-erasure: stopped by a signal after sending " + sentCount[0] + " of " + total + " request(s): "
                    + (sent > 0 ? "the " + sent + " Kafka acknowledged are recorded in " + target : "none was acknowledged")
                    + (refused.isEmpty() ? "" : ", " + refused.size() + " were not") + ". Run submit again with --skip-submitted to"
                    + " send the others");
            return 1;
        }
        if (sentCount[0] != total) {
            System.err.println("cio-erasure: " + file + " changed while it was being submitted (" + sentCount[0] + " request(s) sent, "
                    + total + " checked); what Kafka acknowledged is recorded in " + target + ": check the file and that record");
            return 1;
        }
        if (!refused.isEmpty()) {
            System.err.println("cio-erasure: Kafka did not acknowledge " + refused.size() + " of " + total + " request(s)"
                    + (sent == 0 ? "; none was sent" : "; the " + sent + " it acknowledged are recorded in " + target) + ":");
            refused.stream().limit(20).forEach(r -> System.err.println("  request " + r.requestId() + ": "
                    + Errors.kafkaRefusal(r.cause())));
            if (refused.size() > 20) {
                System.err.println("  … and " + (refused.size() - 20) + " more");
            }
            System.err.println("Fix the cause, then run submit again with --skip-submitted: it sends only the requests not recorded.");
            boolean unavailable = refused.stream().allMatch(r -> r.cause() instanceof org.apache.kafka.common.errors.TimeoutException);
            return unavailable ? Errors.UNAVAILABLE : 1;
        }
        System.out.printf("submitted %d request(s) to %s in %.1f s (%.0f/s)%s; request ids written to %s%n", total, s.kafka().topic(),
                secs, total / Math.max(secs, 1e-3), generatedSent[0] > 0 ? "; " + generatedSent[0] + " of their ids generated" : "", target);
        return 0;
    }

    /**
     * The third pass: the file read again, and the requests Kafka acknowledged added to the record
     * of submissions. The messages are not kept between the passes (they hold identifiers, and a
     * file may hold millions), so the record is made from the file; if the file changed after it
     * was sent (an export still being written, rows edited), the rows read now are not those sent,
     * and a record made from them would name requests never sent, which a later
     * {@code --skip-submitted} would then skip for good. The requests this pass selects are
     * compared with those the send pass sent ({@code sentIds}, in order); when they differ the
     * record is left as it was and {@link ChangedAfterSending} is thrown.
     */
    static void record(Ledger ledger, Path target, RequestFile.Format fmt, boolean named, Path file, Submitter submitter,
                       java.util.function.Predicate<String> selected, int sentRows, Set<String> notSent, byte[] sentIds)
            throws IOException {
        ledger.rewrite(target, fmt, named, out -> {
            Submitter.Pass record = submitter.reread();
            IdDigest readAgain = new IdDigest();
            int[] seen = {0};
            scan(file, fmt, row -> {
                Submitter.Checked c = record.check(row);
                // a stopped submit sent the first sentRows selected (otherwise: every one, and a row added since is a change)
                if (c.message() != null && selected.test(c.requestId()) && seen[0]++ < sentRows) {
                    readAgain.add(c.requestId());
                    if (!ledger.ids().contains(c.requestId()) && !notSent.contains(c.requestId())) {
                        out.write(c.message());
                    }
                }
            });
            if (!java.security.MessageDigest.isEqual(readAgain.digest(), sentIds)) {
                throw new ChangedAfterSending(); // before the commit: the record stays as it was
            }
        });
    }

    /** The file of requests no longer holds the requests that were sent from it. */
    static final class ChangedAfterSending extends IOException {
        ChangedAfterSending() {
            super("the file changed after it was sent");
        }
    }

    /** SHA-256 over request ids in the order added: two passes over a file select the same requests when theirs agree. */
    static final class IdDigest {
        private final java.security.MessageDigest sha256;

        IdDigest() {
            try {
                sha256 = java.security.MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        void add(String requestId) {
            sha256.update(requestId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            sha256.update((byte) '\n');
        }

        byte[] digest() {
            return sha256.digest();
        }
    }

    /** Request ids generated for the rows that will be sent (with --skip-submitted, not those already recorded). */
    private int generatedToSend(Survey survey) {
        return skipSubmitted ? survey.generated - survey.generatedRepeated : survey.generated;
    }

    /** Reads the file row by row; a file that cannot be read is the user's error (exit 1), named without its content. */
    private static void scan(Path file, RequestFile.Format fmt, RequestFile.RowSink sink) throws IOException {
        scan(file, fmt, sink, bytes -> { });
    }

    /** The same, telling {@code bytesRead} how far into the file it is. */
    private static void scan(Path file, RequestFile.Format fmt, RequestFile.RowSink sink, java.util.function.LongConsumer bytesRead)
            throws IOException {
        try {
            RequestFile.scan(file, fmt, sink, bytesRead);
        } catch (IOException e) {
            throw new Errors.UserError(file + ": " + e.getMessage(), 1);
        }
    }

    /** What the first pass learnt of the file: counts, the first problems, whether a request names workspaces. */
    private static final class Survey {
        static final int SHOWN_PROBLEMS = 50;
        final Ledger ledger;
        final List<String> firstProblems = new ArrayList<>();
        int rows;
        int problems;
        int valid;
        int repeated;
        int generated;
        int generatedRepeated;
        boolean named;

        private Survey(Ledger ledger) {
            this.ledger = ledger;
        }

        static Survey of(Path file, RequestFile.Format fmt, Submitter submitter, Ledger ledger) throws IOException {
            Survey survey = new Survey(ledger);
            Submitter.Pass check = submitter.check();
            // a large file takes a while to check: progress by bytes read, after 2 s
            ProgressBar progress = new ProgressBar(Files.size(file), "bytes checked", 2_000_000_000L);
            scan(file, fmt, row -> survey.add(check.check(row)), progress::update);
            progress.done();
            return survey;
        }

        void add(Submitter.Checked c) {
            rows++;
            if (c.problem() != null) {
                if (problems++ < SHOWN_PROBLEMS) {
                    firstProblems.add(c.problem());
                }
                return;
            }
            valid++;
            generated += c.idGenerated() ? 1 : 0;
            if (ledger.ids().contains(c.requestId())) {
                repeated++;
                generatedRepeated += c.idGenerated() ? 1 : 0;
            }
            named |= c.message().has("workspaces");
        }
    }

    /** Writes the new requests into an {@link RequestFile.Output}. */
    @FunctionalInterface
    private interface NewRows {
        void writeTo(RequestFile.Output out) throws IOException;
    }

    /** What earlier runs sent, from the --out file they wrote: their request ids (the requests stay in the file). */
    record Ledger(Set<String> ids, String writtenAt, boolean named) {
        static Ledger read(Path target, RequestFile.Format fmt) throws IOException {
            if (!Files.exists(target)) {
                return new Ledger(Set.of(), null, false);
            }
            Set<String> ids = new java.util.HashSet<>();
            boolean[] named = {false};
            try {
                RequestFile.scan(target, fmt, row -> {
                    if (row.message() != null && row.message().hasNonNull("request_id")) {
                        ids.add(row.message().get("request_id").asText());
                        named[0] |= row.message().has("workspaces");
                    }
                });
            } catch (IOException e) {
                throw new Errors.UserError(target + " (the record of earlier submissions) cannot be read: " + e.getMessage()
                        + "; move it away or name another with --out", 1);
            }
            String at = Files.getLastModifiedTime(target).toInstant().truncatedTo(ChronoUnit.SECONDS).toString();
            return new Ledger(ids, at, named[0]);
        }

        /** The record rewritten: the requests it held, then the new ones; it replaces the old one whole. */
        void rewrite(Path target, RequestFile.Format fmt, boolean newNamed, NewRows newRows) throws IOException {
            try (RequestFile.Output out = RequestFile.Output.open(target, fmt, named || newNamed)) {
                if (Files.exists(target)) {
                    RequestFile.scan(target, fmt, row -> {
                        if (row.message() != null && row.message().hasNonNull("request_id")) {
                            out.write(row.message());
                        }
                    });
                }
                newRows.writeTo(out);
                out.commit();
            }
        }
    }

    private static Path defaultOut(Path file, RequestFile.Format fmt) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        return file.resolveSibling(base + ".submitted." + (fmt == RequestFile.Format.CSV ? "csv" : "ndjson"));
    }
}
