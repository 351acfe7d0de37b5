package dev.cioerasure.cli;

import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.submit.RequestFile;
import dev.cioerasure.submit.Submitter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.EnumSet;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "submit", mixinStandardHelpOptions = true,
        description = {"Publish deletion requests from a file: CSV with a header row",
                "(request_id,identifier_type,identifier,regulation,requested_at,requested_by; request_id and",
                "requested_at optional) or NDJSON (one request message per line). Every row is validated first:",
                "if any is bad, the bad lines are listed and nothing is sent. Missing request ids are generated",
                "(stable per person and regulation, so a re-run erases nobody twice) and written back to --out.",
                "Needs KAFKA_BOOTSTRAP_SERVERS and AUDIT_SUBJECT_KEY (the record key is the subject's keyed hash)."})
final class SubmitCommand implements Callable<Integer> {
    @Option(names = "--file", paramLabel = "F", required = true, description = "The CSV or NDJSON file.")
    Path file;

    @Option(names = "--format", paramLabel = "FMT", description = "csv or ndjson (default: from the file name; .ndjson/.jsonl/.json are NDJSON).")
    String format;

    @Option(names = "--out", paramLabel = "F", description = "Where to write the requests with their ids (default: <file>.submitted.<ext>).")
    Path out;

    @Option(names = "--dry-run", description = "Validate and report only; send nothing.")
    boolean dryRun;

    @Override
    public Integer call() throws Exception {
        if (!Files.isReadable(file)) {
            throw new Errors.UserError("cannot read " + file, 2);
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
        Path target = out != null ? out : defaultOut(file, fmt);
        if (checked.generatedIds() > 0 || out != null) {
            RequestFile.write(target, fmt, checked.messages());
        }
        if (dryRun) {
            System.out.println(checked.messages().size() + " request(s) valid; nothing sent (--dry-run)"
                    + (checked.generatedIds() > 0 ? "; " + checked.generatedIds() + " request id(s) generated, written to " + target : ""));
            return 0;
        }
        int total = checked.messages().size();
        Progress progress = new Progress(total);
        long t0 = System.nanoTime();
        submitter.publish(s.kafka().bootstrapServers(), s.kafka().topic(), checked.messages(), progress::update);
        progress.done();
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("submitted %d request(s) to %s in %.1f s (%.0f/s)%s%n", total, s.kafka().topic(), secs, total / Math.max(secs, 1e-3),
                checked.generatedIds() > 0 ? "; " + checked.generatedIds() + " request id(s) generated, written to " + target : "");
        return 0;
    }

    private static Path defaultOut(Path file, RequestFile.Format fmt) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        return file.resolveSibling(base + ".submitted." + (fmt == RequestFile.Format.CSV ? "csv" : "ndjson"));
    }

    /** A progress bar on stderr: redrawn in place on a terminal, a line every 10 % otherwise. */
    static final class Progress {
        private final int total;
        private final boolean tty = System.console() != null;
        private int lastTenth = -1;

        Progress(int total) {
            this.total = total;
        }

        void update(int done) {
            int width = 30;
            int filled = (int) ((long) done * width / total);
            if (tty) {
                System.err.print("\r[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + done + "/" + total + " acknowledged");
            } else {
                int tenth = (int) ((long) done * 10 / total);
                if (tenth != lastTenth) {
                    lastTenth = tenth;
                    System.err.println("[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + done + "/" + total + " acknowledged");
                }
            }
        }

        void done() {
            if (tty) {
                System.err.println();
            }
        }
    }
}
