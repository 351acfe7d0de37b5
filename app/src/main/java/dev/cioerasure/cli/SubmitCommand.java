package dev.cioerasure.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
                        + " are generated (stable per person, regulation, requested_by and requested_at: the same row gets the"
                        + " same id, so a re-run erases nobody twice; a new ticket or date is a new request). After Kafka has"
                        + " acknowledged them, the requests with their ids are written to --out (default"
                        + " <file>.submitted.<ext>), which also records what was sent: rows already in it are not sent again"
                        + " unless you say so. Needs KAFKA_BOOTSTRAP_SERVERS and AUDIT_SUBJECT_KEY (the record key is the"
                        + " subject's keyed hash)."})
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

    /** Why {@code --file} names nothing this command can read (a bad argument, exit 2), or null when it can. */
    static String unusableFile(Path file) {
        if (Files.isDirectory(file)) {
            return "is a directory, not a file of requests";
        }
        if (!Files.exists(file)) {
            return "no such file";
        }
        if (!Files.isReadable(file)) {
            return "not readable by this user";
        }
        return null;
    }

    @Override
    public Integer call() throws Exception {
        String unusable = unusableFile(file);
        if (unusable != null) {
            throw new Errors.UserError("--file " + file + ": " + unusable, 2);
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
        RequestFile rf;
        try {
            rf = RequestFile.read(file, fmt);
        } catch (IOException e) {
            throw new Errors.UserError(file + ": " + e.getMessage(), 1);
        }
        Submitter submitter = new Submitter(new SubjectHasher(s.audit().subjectKey()), Clock.systemUTC());
        Submitter.Checked checked = submitter.check(rf);
        if (!checked.problems().isEmpty()) {
            System.err.println("cio-erasure: " + checked.problems().size() + " of " + rf.rows().size() + " row(s) in " + file
                    + " are invalid; nothing was sent:");
            checked.problems().stream().limit(50).forEach(p -> System.err.println("  " + p));
            if (checked.problems().size() > 50) {
                System.err.println("  … and " + (checked.problems().size() - 50) + " more");
            }
            return 1;
        }
        if (checked.messages().isEmpty()) {
            throw new Errors.UserError(file + " holds no requests", 1);
        }
        if (resubmit && skipSubmitted) {
            throw new Errors.UserError("--resubmit and --skip-submitted exclude each other", 2);
        }
        Path target = out != null ? out : defaultOut(file, fmt);
        Ledger ledger = Ledger.read(target, fmt);
        List<ObjectNode> all = checked.messages();
        java.util.Map<Boolean, List<ObjectNode>> sentBefore = all.stream()
                .collect(java.util.stream.Collectors.partitioningBy(m -> ledger.ids().contains(m.get("request_id").asText())));
        List<ObjectNode> repeated = sentBefore.get(true);
        List<ObjectNode> toSend = all;
        if (!repeated.isEmpty()) {
            String already = repeated.size() + " of " + all.size() + " row(s) were already submitted on " + ledger.writtenAt()
                    + " (their request ids are in " + target + ")";
            if (skipSubmitted) {
                toSend = sentBefore.get(false);
                System.err.println("cio-erasure: " + already + "; skipping them (--skip-submitted)");
            } else if (resubmit) {
                System.err.println("cio-erasure: " + already + "; sending them again (--resubmit): the worker records them as"
                        + " DUPLICATE and erases nobody twice");
            } else {
                System.err.println("cio-erasure: " + already + ". Nothing was sent. The worker would record them as DUPLICATE"
                        + " and erase nobody twice; a new request for the same person needs a new ticket (requested_by),"
                        + " date (requested_at) or request_id. Re-run with --skip-submitted to send only the "
                        + (all.size() - repeated.size()) + " new row(s), or --resubmit to send all " + all.size() + " again.");
                return 1;
            }
        }
        if (toSend.isEmpty()) {
            System.out.println("nothing new to send: every row of " + file + " was already submitted");
            return 0;
        }
        if (dryRun) {
            System.out.println(toSend.size() + " request(s) valid; nothing sent (--dry-run)"
                    + (checked.generatedIds() > 0 ? "; " + checked.generatedIds() + " request id(s) would be generated" : ""));
            return 0;
        }
        Preflight.kafka(s.kafka(), Duration.ofSeconds(15), List.of(s.kafka().topic()), "ERASURE_TOPIC");
        int total = toSend.size();
        ProgressBar progress = new ProgressBar(total, "acknowledged", 0);
        long t0 = System.nanoTime();
        List<Submitter.Refused> refused = submitter.publish(new KafkaClients(s.kafka()), s.kafka().topic(), toSend, progress::update);
        progress.done();
        double secs = (System.nanoTime() - t0) / 1e9;
        // Written once Kafka has answered for every request, with those it acknowledged: the file records what was sent.
        java.util.Set<ObjectNode> notSent = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        refused.forEach(r -> notSent.add(r.message()));
        List<ObjectNode> sent = toSend.stream().filter(m -> !notSent.contains(m)).toList();
        if (!sent.isEmpty()) {
            RequestFile.write(target, fmt, ledger.plus(sent));
        }
        if (!refused.isEmpty()) {
            System.err.println("cio-erasure: Kafka did not acknowledge " + refused.size() + " of " + total + " request(s)"
                    + (sent.isEmpty() ? "; none was sent" : "; the " + sent.size() + " it acknowledged are recorded in " + target) + ":");
            refused.stream().limit(20).forEach(r -> System.err.println("  request " + r.message().get("request_id").asText() + ": "
                    + Errors.kafkaRefusal(r.cause())));
            if (refused.size() > 20) {
                System.err.println("  … and " + (refused.size() - 20) + " more");
            }
            System.err.println("Fix the cause, then run submit again with --skip-submitted: it sends only the requests not recorded.");
            boolean unavailable = refused.stream().allMatch(r -> r.cause() instanceof org.apache.kafka.common.errors.TimeoutException);
            return unavailable ? Errors.UNAVAILABLE : 1;
        }
        System.out.printf("submitted %d request(s) to %s in %.1f s (%.0f/s)%s; request ids written to %s%n", total, s.kafka().topic(),
                secs, total / Math.max(secs, 1e-3),
                checked.generatedIds() > 0 ? "; " + checked.generatedIds() + " request id(s) generated" : "", target);
        return 0;
    }

    /** What earlier runs sent, from the --out file they wrote. */
    private record Ledger(List<ObjectNode> messages, Set<String> ids, String writtenAt) {
        static Ledger read(Path target, RequestFile.Format fmt) throws IOException {
            if (!Files.exists(target)) {
                return new Ledger(List.of(), Set.of(), null);
            }
            RequestFile earlier;
            try {
                earlier = RequestFile.read(target, fmt);
            } catch (IOException e) {
                throw new Errors.UserError(target + " (the record of earlier submissions) cannot be read: " + e.getMessage()
                        + "; move it away or name another with --out", 1);
            }
            List<ObjectNode> messages = new ArrayList<>();
            Set<String> ids = new LinkedHashSet<>();
            for (RequestFile.Row row : earlier.rows()) {
                if (row.message() != null && row.message().hasNonNull("request_id")) {
                    messages.add(row.message());
                    ids.add(row.message().get("request_id").asText());
                }
            }
            String at = Files.getLastModifiedTime(target).toInstant().truncatedTo(ChronoUnit.SECONDS).toString();
            return new Ledger(messages, ids, at);
        }

        List<ObjectNode> plus(List<ObjectNode> sent) {
            List<ObjectNode> merged = new ArrayList<>(messages);
            sent.stream().filter(m -> !ids.contains(m.get("request_id").asText())).forEach(merged::add);
            return merged;
        }
    }

    private static Path defaultOut(Path file, RequestFile.Format fmt) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        return file.resolveSibling(base + ".submitted." + (fmt == RequestFile.Format.CSV ? "csv" : "ndjson"));
    }
}
