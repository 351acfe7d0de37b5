package dev.cioerasure.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SequenceWriter;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import com.zaxxer.hikari.HikariDataSource;
import dev.cioerasure.audit.AuditQueries;
import dev.cioerasure.audit.ChainVerifier;
import dev.cioerasure.audit.Databases;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.audit.SubjectKeyFingerprint;
import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.preflight.Preflight;
import dev.cioerasure.preflight.SchemaAccess;
import dev.cioerasure.evidence.CheckpointCheck;
import dev.cioerasure.evidence.Digests;
import dev.cioerasure.evidence.Receipt;
import dev.cioerasure.evidence.SigningKey;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.IdentifierType;
import dev.cioerasure.text.VisibleText;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "audit", mixinStandardHelpOptions = true,
        description = {"Answer an auditor's questions from the audit table (read-only; the cio_erasure_auditor role is enough).",
                "Needs DATABASE_URL, DATABASE_USER, DATABASE_PASSWORD; 'find' also AUDIT_SUBJECT_KEY."},
        subcommands = {AuditCommand.Status.class, AuditCommand.Find.class, AuditCommand.Report.class, AuditCommand.Verify.class,
                AuditCommand.ReceiptCommand.class, AuditCommand.PublicKey.class})
final class AuditCommand {
    /** Exit code when the answer is "not found" / "not intact". */
    static final int NOT_FOUND = 1;
    static final int TAMPERED = 3;

    static HikariDataSource database() {
        Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.DATABASE));
        return connected(s.database());
    }

    /**
     * A pool that has been seen to connect to a database with this release's tables, as a login that
     * may read them; otherwise one line naming the setting and the cause, before any output.
     */
    static HikariDataSource connected(Settings.Database db) {
        Preflight.database(db);
        HikariDataSource pool = Databases.pool(db, "audit-cli", null);
        try {
            SchemaAccess.check(pool, db, SchemaAccess.Need.AUDITOR);
            return pool;
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    static void printHistory(List<AuditQueries.Row> rows, PrintStream out) {
        String fmt = "%-6s %-20s %-24s %-9s %-10s %-16s %5s %5s  %-26s %s%n";
        out.printf(fmt, "seq", "occurred (UTC)", "request", "step", "workspace", "outcome", "http", "tries", "kafka record", "reason");
        for (AuditQueries.Row r : rows) {
            out.printf(fmt, r.seq(), ts(r.occurredAt()), nz(r.requestId()), nz(r.step()), nz(r.workspace()), nz(r.outcome()),
                    r.httpStatus() == null ? "" : r.httpStatus(),
                    r.attempts() == null ? "" : r.attempts(), nz(r.source()), r.reason() == null ? "" : shown(r.reason()));
        }
    }

    static String ts(Instant t) {
        return t == null ? "-" : t.toString().replace('T', ' ').replaceAll("\\.\\d+", "").replace("Z", "");
    }

    /** A text column of the audit table as printed: "-" for NULL, else {@link #shown}. */
    static String nz(String s) {
        return s == null ? "-" : shown(s);
    }

    /**
     * A text the audit table holds, safe to print on an auditor's terminal. The worker writes no
     * control or format character, but whoever holds the writer role can insert any text: an
     * escape sequence in a reason could move the cursor, erase or recolour lines (hide a row of
     * the history), or a newline forge one. Each such character is printed as a backslash, "u" and its four hex digits
     * (one such escape per UTF-16 unit: a character beyond the first plane, such as an invisible tag character, as two).
     */
    static String shown(String s) {
        if (s == null) {
            return null;
        }
        StringBuilder out = new StringBuilder(s.length());
        s.codePoints().forEach(cp -> {
            if (hidden(cp)) {
                for (char c : Character.toChars(cp)) {
                    out.append(String.format("\\u%04x", (int) c));
                }
            } else {
                out.appendCodePoint(cp);
            }
        });
        return out.toString();
    }

    /** Control, format (bidirectional overrides, tag characters), separator and private-use characters, and a lone surrogate. */
    static boolean hidden(int codePoint) {
        int t = Character.getType(codePoint);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.LINE_SEPARATOR || t == Character.PARAGRAPH_SEPARATOR
                || t == Character.PRIVATE_USE || t == Character.SURROGATE;
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "The full history of one request, readable by a person.")
    static final class Status implements Callable<Integer> {
        @Parameters(paramLabel = "REQUEST_ID", description = "The request id.")
        String requestId;

        @Override
        public Integer call() throws Exception {
            Errors.requestIdArgument("REQUEST_ID", requestId);
            try (HikariDataSource ds = database()) {
                List<AuditQueries.Row> rows = new AuditQueries(ds).history(requestId);
                if (rows.isEmpty()) {
                    System.err.println("cio-erasure: no audit rows for request " + requestId);
                    return NOT_FOUND;
                }
                AuditQueries.Row first = rows.stream().filter(r -> r.regulation() != null).findFirst().orElse(rows.get(0));
                AuditQueries.Row completed = rows.stream().filter(r -> "COMPLETED".equals(r.outcome())).findFirst().orElse(null);
                AuditQueries.Row last = rows.stream().filter(r -> "OUTCOME".equals(r.step()) && !"DUPLICATE".equals(r.outcome())
                        && !r.reusedId()).reduce((a, b) -> b).orElse(rows.get(rows.size() - 1));
                System.out.println("request     " + requestId);
                if (first.regulation() != null) {
                    System.out.println("regulation  " + first.regulation() + ", requested " + ts(first.requestedAt()) + " by "
                            + nz(first.requestedBy()) + ", deadline " + ts(first.deadlineAt()));
                    // the erased person's, when erased: a record of another person under the id may have come first
                    AuditQueries.Row own = completed != null && completed.subjectHash() != null ? completed : first;
                    System.out.println("subject     " + own.identifierType() + " (keyed hash " + own.subjectHash().substring(0, 16) + "…)");
                }
                if (completed != null) {
                    boolean onTime = completed.deadlineAt() == null || !completed.occurredAt().isAfter(completed.deadlineAt());
                    System.out.println("status      ERASED at " + ts(completed.occurredAt()) + (onTime ? " — on time" : " — LATE"));
                    AuditQueries.Verification verification = AuditQueries.Verification.of(rows, true);
                    for (AuditQueries.Row verify : verification.checks()) {
                        System.out.println("verified    " + nz(verify.outcome()) + (verify.workspace() == null ? "" : " in " + shown(verify.workspace()))
                                + " at " + ts(verify.occurredAt()) + (verify.reason() == null ? "" : " (" + shown(verify.reason()) + ")"));
                    }
                    if (!verification.complete()) {
                        // names the workspaces still being checked when it was erased in several
                        System.out.println("verified    PENDING" + (verification.erasedIn().size() > 1
                                ? " in " + String.join(", ", verification.pendingIn()) : "") + " — the App API checks go on");
                    }
                } else {
                    System.out.println("status      NOT ERASED — latest outcome " + nz(last.outcome())
                            + (last.reason() == null ? "" : " (" + shown(last.reason()) + ")"));
                }
                List<Long> reused = rows.stream().filter(AuditQueries.Row::reusedId).map(AuditQueries.Row::seq).toList();
                if (!reused.isEmpty()) {
                    // the status above is the id's first person's: these were another's, under the same id, and not
                    // erased under it; some may have been since, submitted again under an id of their own
                    java.util.Map<Long, String> since = new AuditQueries(ds).erasedSinceUnderAnotherIdBySeq(reused);
                    long notErased = reused.size() - since.size();
                    System.out.println("reused      " + reused.size() + " record(s) under this id for another identifier or workspace,"
                            + " rejected (REQUEST_ID_REUSED): " + (since.isEmpty() ? "not erased, see below"
                            : (notErased > 0 ? notErased + " not erased, see below; " + since.size() + " " : "")
                            + "erased since under an id of their own (" + new java.util.TreeSet<>(since.values()).stream().map(AuditCommand::nz)
                            .collect(java.util.stream.Collectors.joining(", ")) + ")"));
                }
                if (completed != null && completed.subjectHash() != null) {
                    // two records of the id for two persons run at once in two instances: the database kept
                    // one COMPLETED and stored the other's outcome as a DUPLICATE, erased or not
                    long beside = rows.stream().filter(r -> "OUTCOME".equals(r.step()) && !r.reusedId() && r.subjectHash() != null
                            && !r.subjectHash().equals(completed.subjectHash())).map(AuditQueries.Row::subjectHash).distinct().count();
                    if (beside > 0) {
                        System.out.println("beside      " + beside + " other identifier(s) under this id, run beside the erasure: not"
                                + " this person; their own rows below (audit find) say whether they were erased");
                    }
                }
                java.util.Map<String, String> inWorkspace = new java.util.TreeMap<>();
                rows.stream().filter(r -> "WORKSPACE".equals(r.step()) && !"DUPLICATE".equals(r.outcome()))
                        .forEach(r -> inWorkspace.merge(r.workspace(), r.outcome(), (a, b) -> "SUCCEEDED".equals(a) ? a : b));
                if (!inWorkspace.isEmpty()) {
                    System.out.println("workspaces  " + inWorkspace.entrySet().stream().map(e -> nz(e.getKey()) + " " + nz(e.getValue()))
                            .collect(java.util.stream.Collectors.joining(", ")));
                }
                System.out.println();
                printHistory(rows, System.out);
                return 0;
            }
        }
    }

    static final class Subject {
        @Option(names = "--email", paramLabel = "E", required = true, description = "An email address (- reads it from standard input).")
        String email;

        @Option(names = "--id", paramLabel = "I", required = true, description = "A customer id (- reads it from standard input).")
        String id;

        @Option(names = "--cio-id", paramLabel = "C", required = true,
                description = "A Customer.io cio_id, without the cio_ prefix (- reads it from standard input).")
        String cioId;

        Identifier identifier() {
            return email != null ? new Identifier(IdentifierType.EMAIL, given("--email", email))
                    : id != null ? new Identifier(IdentifierType.ID, given("--id", id))
                    : new Identifier(IdentifierType.CIO_ID, given("--cio-id", cioId));
        }

        /**
         * The value as given, or for {@code -} the first line of standard input: an identifier on
         * the command line is in the shell's history and, while the command runs, in every local
         * user's process list.
         */
        static String given(String option, String value) {
            if (!value.equals("-")) {
                // Java decodes the command line in the locale's encoding: without a UTF-8 locale, "zoë"
                // arrives as "zo\uFFFD\uFFFD", whose hash matches nobody ("no requests" for someone erased)
                if (value.indexOf('\uFFFD') >= 0) {
                    throw new Errors.UserError(option + ": holds characters that could not be decoded (the command line is read in the"
                            + " locale's encoding, not UTF-8 here): set LANG=C.UTF-8, or give the identifier on standard input with "
                            + option + " -; nothing was searched", 2);
                }
                return value;
            }
            String line;
            try {
                line = firstLine(System.in, option);
            } catch (IOException e) {
                throw new Errors.UserError(option + " -: cannot read standard input (" + e.getClass().getSimpleName() + ")", 2);
            }
            if (line == null || line.isBlank()) {
                throw new Errors.UserError(option + " -: standard input holds no identifier (one line expected)", 2);
            }
            if (line.indexOf('\uFFFD') >= 0) {
                throw new Errors.UserError(option + " -: standard input is not UTF-8 text; nothing was searched", 2);
            }
            return line;
        }

        /** Longest first line read from standard input: an identifier is far shorter (an email at most 254 characters). */
        static final int MAX_LINE_BYTES = 4096;

        /**
         * The first line, without its end, read no further than {@value #MAX_LINE_BYTES} bytes (a
         * stream without line ends, such as {@code < /dev/zero}, ran the command out of memory);
         * null when the input is empty. It stops at the line's end, so a person typing at a terminal
         * is answered after Enter.
         */
        static String firstLine(java.io.InputStream in, String option) throws IOException {
            java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    if (line.size() == 0) {
                        return null;
                    }
                    break;
                }
                if (line.size() == MAX_LINE_BYTES) {
                    throw new Errors.UserError(option + " -: the first line of standard input is longer than " + MAX_LINE_BYTES
                            + " bytes, longer than any identifier; nothing was searched", 2);
                }
                line.write(b);
            }
            String text = line.toString(StandardCharsets.UTF_8);
            return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
        }
    }

    @Command(name = "find", mixinStandardHelpOptions = true,
            description = {"Every request for one person.",
                    "The identifier is hashed with AUDIT_SUBJECT_KEY and matched against the stored hashes; it is never stored,"
                            + " logged or printed."})
    static final class Find implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Subject subject;

        @Override
        public Integer call() throws Exception {
            Identifier who = subject.identifier(); // once: "-" reads standard input; a bad one is exit 2 before the settings
            String hidden = VisibleText.describeFirstHidden(who.value());
            if (hidden != null) {
                // searched all the same: a release before the rule took some (tag characters); but a
                // copy and paste that brought one in read as "no requests" for someone erased
                System.err.println("cio-erasure: note: the " + who.type().wireName() + " given holds an invisible or control character ("
                        + hidden + "), which requests are refused for: if a copy and paste brought it in, search again without it");
            }
            Identifier unspaced = withoutEndSpaces(who);
            if (unspaced != null) {
                // a no-break space pasted from a web page or a ticket: String.trim() of an email keeps it,
                // and "no requests" was the answer for someone erased
                System.err.println("cio-erasure: note: the " + who.type().wireName() + " given starts or ends with a space ("
                        + spacesAround(who.value(), unspaced.value()) + "), which requests are refused for: searched with and without it");
            }
            Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.DATABASE, SettingsLoader.Part.AUDIT));
            SubjectHasher hasher = new SubjectHasher(s.audit().subjectKey());
            String hash = hasher.hash(who);
            try (HikariDataSource ds = connected(s.database())) {
                SubjectKeyFingerprint key = new SubjectKeyFingerprint(ds, hasher);
                switch (key.compare()) {
                    case DIFFERENT -> throw new Errors.UserError(SubjectKeyFingerprint.mismatch(key.stored().orElseThrow()), Errors.CONFIG);
                    case NONE_RECORDED -> System.err.println("cio-erasure: warning: this audit table records no key fingerprint yet"
                            + " (no worker has started since the upgrade), so a wrong AUDIT_SUBJECT_KEY cannot be detected:"
                            + " \"no requests\" may mean a wrong key");
                    default -> { }
                }
                AuditQueries queries = new AuditQueries(ds);
                List<AuditQueries.Row> rows = new java.util.ArrayList<>(queries.bySubject(hash));
                if (unspaced != null) {
                    rows.addAll(queries.bySubject(hasher.hash(unspaced)));
                }
                boolean underOtherForm = false;
                List<Identifier> otherForms = new java.util.ArrayList<>(otherUnicodeForms(who));
                if (unspaced != null) {
                    otherForms.addAll(otherUnicodeForms(unspaced));
                }
                for (Identifier form : otherForms) {
                    // "zoë" is two different strings in NFC (ë) and NFD (e + ¨), hashed apart: a request
                    // written in the other form (an export from macOS, say) was "no requests for this email"
                    List<AuditQueries.Row> more = queries.bySubject(hasher.hash(form));
                    underOtherForm |= !more.isEmpty();
                    rows.addAll(more);
                }
                rows.sort(java.util.Comparator.comparingLong(AuditQueries.Row::seq));
                if (underOtherForm) {
                    System.err.println("cio-erasure: note: some of these rows name the person with the same characters in another"
                            + " Unicode form (composed or decomposed, NFC or NFD), which hashes differently");
                }
                if (rows.isEmpty()) {
                    System.out.println("no requests for this " + who.type().wireName()
                            + " (keyed hash " + hash.substring(0, 16) + "…)");
                    return NOT_FOUND;
                }
                long requests = rows.stream().map(AuditQueries.Row::requestId).distinct().count();
                boolean erased = rows.stream().anyMatch(r -> "COMPLETED".equals(r.outcome()));
                // completed under a request id another person's record had completed first (run at once):
                // stored DUPLICATE by the database; the completion's subject says it was not this person's
                java.util.Set<String> ours = rows.stream().map(AuditQueries.Row::subjectHash).collect(java.util.stream.Collectors.toSet());
                List<String> duplicated = rows.stream().filter(AuditQueries.Row::completedDuplicate).map(AuditQueries.Row::requestId)
                        .distinct().toList();
                boolean beside = !erased && !duplicated.isEmpty()
                        && queries.completedSubjects(duplicated).values().stream().anyMatch(subject -> !ours.contains(subject));
                System.out.println(requests + " request(s) for this " + who.type().wireName() + "; "
                        + (erased || beside ? "ERASED" : "NOT ERASED") + " (keyed hash " + hash.substring(0, 16) + "…)"
                        + (beside ? "; under a request id that completed for another identifier first, so its outcome COMPLETED"
                                + " is recorded DUPLICATE (see the reason below): submit such a request under an id of its own" : ""));
                System.out.println();
                printHistory(rows, System.out);
                return 0;
            }
        }
    }

    /**
     * The identifier without the spaces (of any kind: a no-break space too) at its start and end,
     * which no request may hold; null when it has none. An email's own normal form trims only
     * ASCII ones.
     */
    static Identifier withoutEndSpaces(Identifier given) {
        String v = given.value();
        int start = 0;
        int end = v.length();
        while (start < end && VisibleText.isSpace(v.codePointAt(start))) {
            start += Character.charCount(v.codePointAt(start));
        }
        while (end > start && VisibleText.isSpace(v.codePointBefore(end))) {
            end -= Character.charCount(v.codePointBefore(end));
        }
        if (start == 0 && end == v.length() || start == end) {
            return null;
        }
        Identifier unspaced = new Identifier(given.type(), v.substring(start, end));
        // an email's normal form already trims what String.trim() does: no other search then
        return unspaced.type().normalise(unspaced.value()).equals(given.type().normalise(v)) ? null : unspaced;
    }

    /** The code points of the spaces around {@code unspaced} in {@code given} (withoutEndSpaces), e.g. "U+00A0". */
    private static String spacesAround(String given, String unspaced) {
        int start = given.indexOf(unspaced); // the spaces before it cannot hold it
        return (given.substring(0, start) + given.substring(start + unspaced.length())).codePoints()
                .mapToObj(c -> String.format(java.util.Locale.ROOT, "U+%04X", c)).distinct().sorted()
                .collect(java.util.stream.Collectors.joining(", "));
    }

    /** The identifier in the Unicode normal forms (NFC, NFD) that differ from the form given. */
    static List<Identifier> otherUnicodeForms(Identifier given) {
        java.util.Set<String> forms = new java.util.LinkedHashSet<>();
        for (java.text.Normalizer.Form f : new java.text.Normalizer.Form[] {java.text.Normalizer.Form.NFC, java.text.Normalizer.Form.NFD}) {
            forms.add(java.text.Normalizer.normalize(given.value(), f));
        }
        forms.remove(given.value());
        return forms.stream().map(v -> new Identifier(given.type(), v)).toList();
    }

    @Command(name = "report", mixinStandardHelpOptions = true,
            description = {"Proof-of-erasure report: one line per request requested from --from to --to (both days included).",
                    "Each line gives the regulation, when it was requested, its deadline, when it was erased, its outcome, and"
                            + " whether it was on time or late."})
    static final class Report implements Callable<Integer> {
        @Option(names = "--from", paramLabel = "DATE", required = true, description = "First day (YYYY-MM-DD, UTC), inclusive.")
        String from;

        @Option(names = "--to", paramLabel = "DATE", required = true, description = "Last day (YYYY-MM-DD, UTC), inclusive.")
        String to;

        @Option(names = "--format", paramLabel = "FMT", defaultValue = "table",
                description = "table (default), csv or json.")
        String format;

        @Option(names = "--receipts", paramLabel = "DIR",
                description = "Also write a signed receipt of each request of the period into DIR (needs AUDIT_SIGNING_KEY_FILE).")
        Path receipts;

        /**
         * A day written YYYY-MM-DD with a four-digit year. LocalDate alone also takes "+300000-12-31"
         * and years past 999,999,999, which ended the command with exit 70 and PostgreSQL's or
         * java.time's own error instead of a bad-argument one.
         */
        static LocalDate day(String option, String value) {
            if (value.matches("[0-9]{4}-[0-9]{2}-[0-9]{2}")) {
                try {
                    return LocalDate.parse(value);
                } catch (DateTimeParseException e) {
                    // written so, but not a day of the calendar: "must be written YYYY-MM-DD" misled
                    throw new Errors.UserError(option + " " + value + " is not a day of the calendar", 2);
                }
            }
            throw new Errors.UserError(option + " must be a day written YYYY-MM-DD, like 2026-11-01", 2);
        }

        @Override
        public Integer call() throws Exception {
            Instant start = day("--from", from).atStartOfDay(ZoneOffset.UTC).toInstant();
            Instant end = day("--to", to).plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
            if (!end.isAfter(start)) {
                throw new Errors.UserError("--to must not be before --from", 2);
            }
            if (!List.of("table", "csv", "json").contains(format)) {
                throw new Errors.UserError("--format must be table, csv or json", 2);
            }
            String unusable = receipts == null ? null : Errors.unwritableDirectory(receipts);
            if (unusable != null) {
                throw new Errors.UserError("--receipts " + receipts + ": " + unusable + "; nothing was written", 2);
            }
            SigningKey key = receipts == null ? null : signingKey();
            if (receipts != null) {
                Files.createDirectories(receipts);
            }
            try (HikariDataSource ds = database()) {
                int[] counts = new int[4];
                ReportWriter w = ReportWriter.of(format, System.out);
                List<String> requestIds = new java.util.ArrayList<>();
                new AuditQueries(ds).report(start, end, line -> {
                    if (receipts != null) {
                        requestIds.add(line.requestId()); // only for the receipts: a report of millions held them all
                    }
                    if (++counts[0] % 1000 == 0) {
                        Errors.stopIfReaderGone(); // | head: the rest of the query is not read for nobody
                    }
                    if (line.erased()) {
                        counts[1]++;
                    }
                    if (Boolean.FALSE.equals(line.onTime())) {
                        counts[2]++;
                    }
                    if ("STILL_PRESENT".equals(line.verification())) {
                        counts[3]++;
                    }
                    w.line(line);
                });
                w.close();
                if (format.equals("table")) {
                    System.out.printf("%n%d request(s); %d erased (%d late); %d not erased%n", counts[0], counts[1], counts[2],
                            counts[0] - counts[1]);
                    if (counts[3] > 0) {
                        System.out.printf("%d erased request(s) STILL_PRESENT in Customer.io at their verification deadline:"
                                + " a compliance incident (see docs/operations.md#erasurepersonstillpresent)%n", counts[3]);
                    }
                }
                if (key != null) {
                    writeReceipts(new AuditQueries(ds), requestIds, key);
                }
                return 0;
            }
        }

        /** One receipt file per request; a name that is not a plain request id is replaced by a hash of it. */
        private void writeReceipts(AuditQueries q, List<String> requestIds, SigningKey key) throws Exception {
            Instant issuedAt = Instant.now();
            int written = 0;
            for (String id : requestIds) {
                List<AuditQueries.Row> rows = q.history(id);
                if (rows.isEmpty()) {
                    continue;
                }
                writeWhole(receipts.resolve(fileName(id)), Receipt.issue(id, rows, q.rowHashes(id), key, issuedAt));
                if (++written % 1000 == 0) {
                    System.err.println("… " + written + " of " + requestIds.size() + " receipts written");
                }
            }
            System.err.println(written + " receipt(s) written to " + receipts);
        }

        /**
         * Writes a receipt to a file of its own beside {@code target}, then moves it in place: a
         * command stopped while writing (a kill, a full disk) leaves the receipt that was there, or
         * none, never half of one that {@code --verify} then calls invalid.
         */
        static void writeWhole(java.nio.file.Path target, byte[] content) throws java.io.IOException {
            if (Files.exists(target) && !Files.isRegularFile(target)) {
                Files.write(target, content); // a device or a pipe (/dev/stdout): nothing to replace
                return;
            }
            java.nio.file.Path dir = target.toAbsolutePath().getParent();
            java.nio.file.Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try {
                Files.write(temp, content);
                dev.cioerasure.config.SmallFiles.replace(temp, target);
            } finally {
                Files.deleteIfExists(temp);
            }
        }

        /**
         * A receipt's file name in {@code --receipts DIR}: the request id where it is a portable
         * file name (lower-case letters, digits, {@code . _ -}). An id with capitals or {@code :}
         * is written in lower case with {@code :} as {@code _} and a hash of the id added: on a
         * disk that ignores case (macOS, Windows), {@code R-1} and {@code r-1} were one file, the
         * second receipt written over the first; Windows refuses {@code :}. Any other id (a
         * {@code /}, {@code ..}) is replaced by a hash of it.
         */
        static String fileName(String requestId) {
            String hash = Digests.sha256Hex(requestId.getBytes(StandardCharsets.UTF_8));
            if (requestId.matches("[a-z0-9_-][a-z0-9._-]{0,127}")) {
                return requestId + ".receipt.json";
            }
            if (requestId.matches("[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,127}")) {
                return requestId.toLowerCase(java.util.Locale.ROOT).replace(':', '_') + "." + hash.substring(0, 12) + ".receipt.json";
            }
            return "request-" + hash.substring(0, 32) + ".receipt.json";
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Tamper check of the whole audit table: exit 0 when intact, 3 when not.",
                    "Re-computes the hash chain and reports every row where it breaks (with --first, only the first)."})
    static final class Verify implements Callable<Integer> {
        @Option(names = "--first", description = "Stop at the first break (default: check every row and report every break).")
        boolean first;

        @Option(names = "--checkpoint-dir", paramLabel = "DIR",
                description = "Also compare the table with the signed checkpoints in DIR (AUDIT_CHECKPOINT_DIR of the workers).")
        Path checkpointDir;

        @Option(names = "--checkpoint-topic", paramLabel = "TOPIC",
                description = "Also compare with the signed checkpoints on this Kafka topic (needs KAFKA_BOOTSTRAP_SERVERS and the"
                        + " other KAFKA_* settings).")
        String checkpointTopic;

        @Option(names = "--public-key", paramLabel = "PEM", description = "The key the checkpoints must be signed with (from 'audit public-key').")
        Path publicKey;

        @Override
        public Integer call() throws Exception {
            CheckpointCheck.Collector checkpoints = checkpoints();
            try (HikariDataSource ds = database()) {
                long t0 = System.nanoTime();
                ProgressBar[] bar = {null};
                // on stderr, and only once the check has taken 2 s: a small table's check says nothing more
                ChainVerifier.Result r = new ChainVerifier(ds).verify(first, (checked, total) -> {
                    if (bar[0] == null) {
                        bar[0] = new ProgressBar(total, "rows checked", 2_000_000_000L);
                    }
                    bar[0].update(checked);
                });
                if (bar[0] != null) {
                    bar[0].done();
                }
                double s = (System.nanoTime() - t0) / 1e9;
                boolean intact = r.intact();
                if (r.intact()) {
                    System.out.printf("INTACT: %d rows verified, chain ends at row %d (%.1f s)%n", r.rowsChecked(), r.lastSeq(), s);
                } else {
                    System.out.printf("TAMPERED: %d break(s) in the chain%s; %d row(s) verified (%.1f s):%n", r.breakCount(),
                            first ? " (stopped at the first, --first)" : "", r.rowsChecked(), s);
                    for (ChainVerifier.Break b : r.breaks()) {
                        System.out.printf("  row %d%s: %s%n", b.chainSeq(), b.rowId() > 0 ? " (id " + b.rowId() + ")" : "", b.problem());
                    }
                    if (r.breakCount() > r.breaks().size()) {
                        System.out.printf("  … and %d more%n", r.breakCount() - r.breaks().size());
                    }
                }
                if (checkpoints != null) {
                    intact &= compareWithCheckpoints(ds, checkpoints);
                }
                return intact ? 0 : TAMPERED;
            }
        }

        /** The checkpoints named by the options, signed by --public-key; null when none was asked for. */
        private CheckpointCheck.Collector checkpoints() throws IOException {
            if (checkpointDir == null && checkpointTopic == null) {
                return null;
            }
            if (publicKey == null) {
                throw new Errors.UserError("--checkpoint-dir / --checkpoint-topic need --public-key PEM", 2);
            }
            if (checkpointDir != null && !Files.isDirectory(checkpointDir)) {
                throw new Errors.UserError("--checkpoint-dir: " + checkpointDir + " is not a directory", 2);
            }
            CheckpointCheck.Collector collected = new CheckpointCheck.Collector(publicKey(publicKey));
            if (checkpointDir != null) {
                collected.addFilesIn(checkpointDir);
            }
            if (checkpointTopic != null) {
                Settings k = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.KAFKA));
                TopicReader.readAll(k.kafka(), checkpointTopic, rec -> collected.add(rec.value()));
            }
            return collected;
        }

        private boolean compareWithCheckpoints(HikariDataSource ds, CheckpointCheck.Collector checkpoints) throws Exception {
            CheckpointCheck.Result r = checkpoints.check(ds);
            if (r.ignored() > 0) {
                System.out.printf("note: %d checkpoint(s) ignored: not a checkpoint, or not signed by this key%n", r.ignored());
            }
            if (r.checkpoints() == 0) {
                System.out.println("NO CHECKPOINTS: none signed by this key was found; the table could not be compared");
                return false;
            }
            if (r.consistent()) {
                System.out.printf("CHECKPOINTS AGREE: %d checkpoint(s) up to row %d match the table%s%n", r.checkpoints(), r.lastCovered(),
                        r.tableEnd() > r.lastCovered() ? "; rows " + (r.lastCovered() + 1) + ".." + r.tableEnd() + " are newer than the last" : "");
                return true;
            }
            System.out.printf("CHECKPOINTS CONTRADICT THE TABLE: %d finding(s):%n", r.findings().size());
            for (CheckpointCheck.Finding f : r.findings()) {
                System.out.printf("  %s: %s%n", f.kind(), f.problem());
            }
            return false;
        }
    }

    /** The public key named by --public-key, or a usage error that says what is wrong with the file. */
    static java.security.PublicKey publicKey(Path pem) {
        String unusable = Errors.unusableFile(pem, "a public key (PEM)");
        if (unusable != null) {
            // a directory was read, and ended with exit 70 and "java.io.IOException: Is a directory"
            throw new Errors.UserError("--public-key " + pem + ": " + unusable, 2);
        }
        try {
            return SigningKey.readPublic(pem);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError("--public-key: " + e.getMessage(), 2);
        } catch (IOException e) {
            throw new Errors.UserError("--public-key " + pem + ": cannot be read (" + e.getClass().getSimpleName() + ")", 2);
        }
    }

    /** The receipt signing key from AUDIT_SIGNING_KEY_FILE, or a configuration error that says what is missing. */
    static SigningKey signingKey() {
        String file = Main.environment().get("AUDIT_SIGNING_KEY_FILE");
        if (file == null || file.isBlank()) {
            throw new Errors.UserError("AUDIT_SIGNING_KEY_FILE: not set (an Ed25519 private key in PEM; make one with:"
                    + " openssl genpkey -algorithm ed25519 -out audit-signing.pem)", Errors.CONFIG);
        }
        try {
            return SigningKey.read(Path.of(file));
        } catch (IOException e) {
            throw new Errors.UserError("AUDIT_SIGNING_KEY_FILE: cannot read " + dev.cioerasure.config.Redact.filePath(file) + " ("
                    + e.getClass().getSimpleName() + ")", Errors.CONFIG);
        } catch (IllegalArgumentException e) {
            throw new Errors.UserError("AUDIT_SIGNING_KEY_FILE: " + e.getMessage(), Errors.CONFIG);
        }
    }

    @Command(name = "receipt", mixinStandardHelpOptions = true,
            description = {"A signed erasure receipt of one request, or with --verify, an offline check of one.",
                    "The receipt is one line of JSON, signed (Ed25519) with AUDIT_SIGNING_KEY_FILE. --verify exits 0 when the"
                            + " receipt is exactly as issued, 3 when not."})
    static final class ReceiptCommand implements Callable<Integer> {
        /** Far above any receipt (one request's rows, a few kilobytes). */
        static final int MAX_RECEIPT_BYTES = 1024 * 1024;

        @Parameters(paramLabel = "REQUEST_ID", arity = "0..1", description = "The request to issue a receipt for.")
        String requestId;

        @Option(names = "--out", paramLabel = "FILE", description = "Write the receipt here instead of to standard output.")
        Path out;

        @Option(names = "--verify", paramLabel = "FILE", description = "Check this receipt file (needs --public-key; no database).")
        Path verify;

        @Option(names = "--public-key", paramLabel = "PEM", description = "The public key to check against (from 'audit public-key').")
        Path publicKey;

        @Override
        public Integer call() throws Exception {
            if (verify != null) {
                if (publicKey == null || requestId != null) {
                    throw new Errors.UserError("--verify FILE needs --public-key PEM and no REQUEST_ID", 2);
                }
                String unusable = Errors.unusableFile(verify, "a receipt");
                if (unusable != null) {
                    throw new Errors.UserError("--verify " + verify + ": " + unusable, 2);
                }
                java.security.PublicKey key = publicKey(publicKey);
                // a receipt is a few kilobytes: a larger file is no receipt, and is not read whole
                byte[] receipt;
                try {
                    receipt = dev.cioerasure.config.SmallFiles.read(verify, MAX_RECEIPT_BYTES);
                } catch (dev.cioerasure.config.SmallFiles.TooLarge e) {
                    System.out.println("NOT VALID: " + Receipt.Verdict.NOT_A_RECEIPT.meaning + ": larger than any receipt (over "
                            + MAX_RECEIPT_BYTES / 1024 / 1024 + " MiB)");
                    return TAMPERED;
                }
                Receipt.Verdict v = Receipt.verify(receipt, key);
                System.out.println((v == Receipt.Verdict.VALID ? "VALID: " : "NOT VALID: ") + v.meaning);
                return v == Receipt.Verdict.VALID ? 0 : TAMPERED;
            }
            if (requestId == null) {
                throw new Errors.UserError("give a REQUEST_ID, or --verify FILE --public-key PEM", 2);
            }
            Errors.requestIdArgument("REQUEST_ID", requestId);
            String unwritable = out == null ? null : Errors.unwritableFile(out);
            if (unwritable == null && out != null && Files.exists(out) && !Files.isWritable(out)) {
                unwritable = "not writable by this user";
            }
            if (unwritable != null) {
                throw new Errors.UserError("--out " + out + ": " + unwritable + "; no receipt was issued", 2);
            }
            SigningKey key = signingKey();
            try (HikariDataSource ds = database()) {
                AuditQueries q = new AuditQueries(ds);
                List<AuditQueries.Row> rows = q.history(requestId);
                if (rows.isEmpty()) {
                    System.err.println("cio-erasure: no audit rows for request " + requestId);
                    return NOT_FOUND;
                }
                byte[] receipt = Receipt.issue(requestId, rows, q.rowHashes(requestId), key, Instant.now());
                if (out == null) {
                    System.out.write(receipt);
                    System.out.flush();
                } else {
                    Report.writeWhole(out, receipt);
                    System.err.println("receipt of " + requestId + " written to " + out);
                }
                return 0;
            }
        }
    }

    @Command(name = "public-key", mixinStandardHelpOptions = true,
            description = "Prints the public key of AUDIT_SIGNING_KEY_FILE (PEM), for auditors to check receipts with.")
    static final class PublicKey implements Callable<Integer> {
        @Override
        public Integer call() {
            java.security.PublicKey key = signingKey().publicKey();
            System.out.print(SigningKey.publicKeyPem(key));
            System.err.println("sha256 of the key (receipts name it as public_key_sha256): " + SigningKey.fingerprint(key));
            return 0;
        }
    }

    /** Writes report lines as a table, CSV (RFC 4180) or a JSON array. */
    abstract static class ReportWriter {
        static final List<String> CSV_COLUMNS = List.of("request_id", "regulation", "identifier_type", "requested_by", "requested_at",
                "deadline_at", "first_seen_at", "status", "status_at", "erased", "on_time", "verification", "verified_at", "workspaces");

        abstract void line(AuditQueries.RequestLine l);

        void close() { }

        static ReportWriter of(String format, PrintStream out) throws IOException {
            return switch (format) {
                case "csv" -> {
                    CsvSchema.Builder columns = CsvSchema.builder();
                    CSV_COLUMNS.forEach(columns::addColumn);
                    SequenceWriter rows = new CsvMapper().writer(columns.build().withHeader()).writeValues(out);
                    yield new ReportWriter() {
                        @Override
                        void line(AuditQueries.RequestLine l) {
                            try {
                                rows.write(Stream.of(l.requestId(), l.regulation(), l.identifierType(), l.requestedBy(),
                                                str(l.requestedAt()), str(l.deadlineAt()), str(l.firstSeenAt()), l.status(), str(l.statusAt()),
                                                Boolean.toString(l.erased()), l.onTime() == null ? "" : l.onTime().toString(),
                                                l.verification(), str(l.verifiedAt()), l.workspaces())
                                        .map(AuditCommand::shown).map(ReportWriter::spreadsheetSafe).toList());
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }

                        @Override
                        void close() {
                            try {
                                rows.flush();
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    };
                }
                case "json" -> {
                    // every character outside ASCII as \\uXXXX (the same JSON, and nothing a terminal acts on)
                    JsonGenerator g = new ObjectMapper().getFactory().createGenerator(out)
                            .enable(com.fasterxml.jackson.core.json.JsonWriteFeature.ESCAPE_NON_ASCII.mappedFeature());
                    g.useDefaultPrettyPrinter();
                    g.writeStartArray();
                    yield new ReportWriter() {
                        @Override
                        void line(AuditQueries.RequestLine l) {
                            try {
                                g.writeStartObject();
                                g.writeStringField("request_id", l.requestId());
                                g.writeStringField("regulation", l.regulation());
                                g.writeStringField("identifier_type", l.identifierType());
                                g.writeStringField("requested_by", l.requestedBy());
                                g.writeStringField("requested_at", str(l.requestedAt()));
                                g.writeStringField("deadline_at", str(l.deadlineAt()));
                                g.writeStringField("first_seen_at", str(l.firstSeenAt()));
                                g.writeStringField("status", l.status());
                                g.writeStringField("status_at", str(l.statusAt()));
                                g.writeBooleanField("erased", l.erased());
                                if (l.onTime() == null) {
                                    g.writeNullField("on_time");
                                } else {
                                    g.writeBooleanField("on_time", l.onTime());
                                }
                                g.writeStringField("verification", l.verification());
                                g.writeStringField("verified_at", str(l.verifiedAt()));
                                g.writeStringField("workspaces", l.workspaces());
                                g.writeEndObject();
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }

                        @Override
                        void close() {
                            try {
                                g.writeEndArray();
                                g.flush();
                                out.println();
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    };
                }
                default -> new ReportWriter() {
                    private final String fmt = "%-24s %-5s %-20s %-20s %-20s %-16s %-7s %-13s %s%n";

                    {
                        out.printf(fmt, "request", "reg", "requested (UTC)", "deadline (UTC)", "erased at (UTC)", "status", "on time",
                                "verification", "workspaces");
                    }

                    @Override
                    void line(AuditQueries.RequestLine l) {
                        out.printf(fmt, nz(l.requestId()), nz(l.regulation()), ts(l.requestedAt()), ts(l.deadlineAt()),
                                l.erased() ? ts(l.statusAt()) : "-", nz(l.status()),
                                l.onTime() == null ? (l.erased() ? "" : "-") : l.onTime() ? "yes" : "LATE", nz(l.verification()),
                                nz(l.workspaces()));
                    }
                };
            };
        }

        static String str(Instant t) {
            return t == null ? null : t.toString();
        }

        /**
         * A cell that a spreadsheet will not run: a leading = + - @ gets a ' in front (OWASP's
         * advice against CSV injection). Quoting is the CSV writer's (RFC 4180).
         */
        static String spreadsheetSafe(String s) {
            if (s == null) {
                return "";
            }
            return s.startsWith("=") || s.startsWith("+") || s.startsWith("-") || s.startsWith("@") ? "'" + s : s;
        }
    }
}
