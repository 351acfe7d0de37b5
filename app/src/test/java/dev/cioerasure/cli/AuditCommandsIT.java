package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.audit.AuditQueries;

import dev.cioerasure.audit.AuditEvent;
import dev.cioerasure.audit.AuditEvent.KafkaCoordinates;
import dev.cioerasure.audit.AuditWriter;
import dev.cioerasure.audit.Outcome;
import dev.cioerasure.audit.Step;
import dev.cioerasure.audit.SubjectHasher;
import dev.cioerasure.audit.SubjectKeyFingerprint;
import dev.cioerasure.config.Secret;
import dev.cioerasure.config.Settings;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.TestInfra;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The auditor's commands against a real audit table. */
class AuditCommandsIT {
    private static final String KEY = "audit-key-for-commands-0123456789";
    private Settings.Database db;
    private DataSource ds;
    private final SubjectHasher hasher = new SubjectHasher(Secret.of("K", KEY));

    @BeforeEach
    void seed() throws Exception {
        db = TestInfra.freshDatabase();
        ds = TestInfra.dataSource(db);
        String jane = hasher.hash(Identifier.email("jane@example.com"));
        String bob = hasher.hash(Identifier.id("bob-42"));
        Instant nov = Instant.parse("2026-11-02T09:00:00Z");
        Instant old = Instant.parse("2026-09-01T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(
                    row("r-jane", jane, "email", Step.SUPPRESS, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(60), 1),
                    row("r-jane", jane, "email", Step.DESTROY, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(61), 1),
                    row("r-jane", jane, "email", Step.OUTCOME, Outcome.COMPLETED, null, "GDPR", nov, nov.plusSeconds(61), 1),
                    row("r-bob", bob, "id", Step.OUTCOME, Outcome.RETRY_SCHEDULED, 503, "CCPA", nov.plusSeconds(3600), nov.plusSeconds(3700), 2),
                    row("r-late", bob, "id", Step.OUTCOME, Outcome.COMPLETED, null, "GDPR", old, Instant.parse("2026-10-15T00:00:00Z"), 3),
                    row("=cmd", jane, "email", Step.OUTCOME, Outcome.DUPLICATE, null, "GDPR", nov.plusSeconds(7200), nov.plusSeconds(7300), 4)))
                    .get(10, TimeUnit.SECONDS);
        }
    }

    private static AuditEvent row(String rid, String subject, String type, Step step, Outcome outcome, Integer status, String reg,
                                  Instant requestedAt, Instant at, long offset) {
        return new AuditEvent(rid, subject, type, step, outcome, status, status == null ? null : 1,
                outcome == Outcome.RETRY_SCHEDULED ? "suppress: http 503 after 5 attempts (retryable); retry round 1 of 8" : null,
                reg, requestedAt, reg.equals("GDPR") ? requestedAt.atZone(java.time.ZoneOffset.UTC).plusMonths(1).toInstant()
                        : requestedAt.plusSeconds(45L * 86400), "desk/1", new KafkaCoordinates("erasure.requests", 0, offset), at);
    }


    private Cli.Run run(boolean withKey, String... args) {
        Map<String, String> env = new HashMap<>(Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(), "DATABASE_PASSWORD", db.password().reveal()));
        if (withKey) {
            env.put("AUDIT_SUBJECT_KEY", KEY);
        }
        return Cli.run(env, args);
    }

    @Test
    void statusTellsWhetherAndWhenARequestWasErased() {
        Cli.Run r = run(false, "audit", "status", "r-jane");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("ERASED at 2026-11-02 09:01:01 — on time", "GDPR", "deadline 2026-12-02 09:00:00", "SUPPRESS", "DESTROY");
        assertThat(r.out()).doesNotContain("reused ");
        Cli.Run open = run(false, "audit", "status", "r-bob");
        assertThat(open.out()).contains("NOT ERASED", "RETRY_SCHEDULED", "retry round 1 of 8");
        assertThat(run(false, "audit", "status", "nope").exit()).isEqualTo(1);
        // what cannot be a request id (a pasted email with a control character, 100,000 characters) is a usage error, never echoed
        for (String notAnId : new String[] {"jane@example.com\u001b[2J", "x".repeat(100_000), " r-jane"}) {
            Cli.Run bad = run(false, "audit", "status", notAnId);
            assertThat(bad.exit()).isEqualTo(2);
            assertThat(bad.err().strip()).isEqualTo(
                    "cio-erasure: REQUEST_ID: not a request id (1-128 printable ASCII characters, no leading or trailing space)");
        }
    }

    /**
     * A record of {@code requestId} for another person ({@code subject}), rejected as the worker
     * rejects it: the id already had its final outcome {@code first}.
     */
    private static AuditEvent reused(String requestId, String subject, String first, String regulation, Instant requested,
                                     Instant deadline, long offset, Instant at) {
        return new AuditEvent(requestId, subject, "email", Step.OUTCOME, Outcome.REJECTED, null, null,
                "REQUEST_ID_REUSED: the request id already has outcome " + first + " for another identifier; this one was not erased:"
                        + " submit it under a request id of its own", regulation, requested, deadline, "desk/1",
                new KafkaCoordinates("erasure.requests", 0, offset), at);
    }

    /** A record of a finished request's id for another identifier: the id's status is the first person's, so it says so. */
    @Test
    void statusNamesTheRecordsOfItsIdRejectedForAnotherIdentifier() throws Exception {
        String other = hasher.hash(Identifier.email("jane@work.example"));
        Instant nov = Instant.parse("2026-11-02T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(reused("r-jane", other, "COMPLETED", "GDPR", nov, nov.plusSeconds(86400L * 30), 90, nov.plusSeconds(600)))).get(10, TimeUnit.SECONDS);
        }
        Cli.Run r = run(false, "audit", "status", "r-jane");
        assertThat(r.out()).contains("ERASED at 2026-11-02 09:01:01", "reused      1 record(s) under this id for another identifier or"
                + " workspace, rejected (REQUEST_ID_REUSED): not erased, see below", "REQUEST_ID_REUSED: the request id already has");
        // a request not erased: its own latest outcome, not the reuse's rejection
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(reused("r-bob", other, "FAILED", "CCPA", nov, nov.plusSeconds(86400L * 45), 91, nov.plusSeconds(7200)))).get(10, TimeUnit.SECONDS);
        }
        assertThat(run(false, "audit", "status", "r-bob").out()).contains("NOT ERASED — latest outcome RETRY_SCHEDULED", "reused      1");

        // that person submitted again under an id of their own, and erased: the line says so (it said "not erased" for good)
        Instant dec = Instant.parse("2026-12-20T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(new AuditEvent("r-jane-work", other, "email", Step.OUTCOME, Outcome.COMPLETED, null, null, null, "GDPR", dec,
                    dec.plusSeconds(86400L * 30), "desk/2", new KafkaCoordinates("erasure.requests", 0, 92), dec.plusSeconds(60))))
                    .get(10, TimeUnit.SECONDS);
        }
        assertThat(run(false, "audit", "status", "r-jane").out()).contains("reused      1 record(s) under this id for another identifier"
                + " or workspace, rejected (REQUEST_ID_REUSED): erased since under an id of their own (r-jane-work)")
                .doesNotContain("not erased, see below");
    }

    /**
     * Two records of one id for two persons run at once in two instances: the other person's
     * suppress failed first, then the first person's erasure completed, and the database stored the
     * other's FAILED as a DUPLICATE. The status named the other person as the request's subject and
     * said nothing of them; it names the erased one now, and the other under "beside".
     */
    @Test
    void statusSaysWhenAnotherIdentifiersRecordRanBesideTheErasure() throws Exception {
        String ann = hasher.hash(Identifier.email("ann@example.com"));
        String other = hasher.hash(Identifier.email("ann@work.example"));
        Instant nov = Instant.parse("2026-11-03T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(row("r-beside", other, "id", Step.SUPPRESS, Outcome.FAILED, 400, "CCPA", nov, nov.plusSeconds(30), 20)))
                    .get(10, TimeUnit.SECONDS);
            w.append(List.of(
                    row("r-beside", ann, "email", Step.SUPPRESS, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(60), 21),
                    row("r-beside", ann, "email", Step.DESTROY, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(61), 21),
                    row("r-beside", ann, "email", Step.OUTCOME, Outcome.COMPLETED, null, "GDPR", nov, nov.plusSeconds(61), 21),
                    row("r-beside", other, "id", Step.OUTCOME, Outcome.FAILED, null, "CCPA", nov, nov.plusSeconds(62), 20)))
                    .get(10, TimeUnit.SECONDS);
        }
        Cli.Run r = run(false, "audit", "status", "r-beside");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("subject     email (keyed hash " + ann.substring(0, 16) + "…)", "ERASED at 2026-11-03 09:01:01",
                "beside      1 other identifier(s) under this id, run beside the erasure: not this person; their own rows below (audit"
                        + " find) say whether they were erased",
                "request id was already completed for another identifier; this identifier's outcome (FAILED) recorded as duplicate");
        assertThat(run(false, "audit", "status", "r-jane").out()).doesNotContain("beside ");

        // what each of them reads (V17): the failed one not erased; a third, whose erasure also ran
        // beside and completed, erased (it read NOT ERASED: its row is a DUPLICATE)
        Cli.Run failed = run(true, "audit", "find", "--email", "ann@work.example");
        assertThat(failed.out()).startsWith("1 request(s) for this email; NOT ERASED").doesNotContain("under a request id that");
        String cy = hasher.hash(Identifier.email("cy@example.com"));
        try (AuditWriter w = new AuditWriter(ds, "worker-b", new SimpleMeterRegistry())) {
            w.append(List.of(
                    row("r-beside", cy, "email", Step.SUPPRESS, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(70), 22),
                    row("r-beside", cy, "email", Step.DESTROY, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(71), 22),
                    row("r-beside", cy, "email", Step.OUTCOME, Outcome.COMPLETED, null, "GDPR", nov, nov.plusSeconds(71), 22)))
                    .get(10, TimeUnit.SECONDS);
        }
        Cli.Run erased = run(true, "audit", "find", "--email", "cy@example.com");
        assertThat(erased.out()).startsWith("1 request(s) for this email; ERASED").contains("under a request id that completed for"
                + " another identifier first, so its outcome COMPLETED is recorded DUPLICATE",
                "request id was already completed for another identifier; this identifier's outcome (COMPLETED) recorded as duplicate");
        assertThat(run(false, "audit", "status", "r-beside").out()).contains("beside      2 other identifier(s)");

        // such a row from before V17 reads like a copy of the same person's request: the completion's
        // subject, another one, tells it apart
        String dee = hasher.hash(Identifier.email("dee@example.com"));
        try (AuditWriter w = new AuditWriter(ds, "worker-b", new SimpleMeterRegistry())) {
            w.append(List.of(
                    row("r-beside", dee, "email", Step.SUPPRESS, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(80), 23),
                    row("r-beside", dee, "email", Step.DESTROY, Outcome.SUCCEEDED, 200, "GDPR", nov, nov.plusSeconds(81), 23),
                    new AuditEvent("r-beside", dee, "email", Step.OUTCOME, Outcome.DUPLICATE, null, null,
                            "request was already completed; this outcome (COMPLETED) recorded as duplicate", "GDPR", nov,
                            nov.plusSeconds(86400L * 30), "desk/1", new KafkaCoordinates("erasure.requests", 0, 23), nov.plusSeconds(81))))
                    .get(10, TimeUnit.SECONDS);
        }
        assertThat(run(true, "audit", "find", "--email", "dee@example.com").out()).startsWith("1 request(s) for this email; ERASED");
        // and a copy of the erased person's own request stays a copy: she reads erased by her own COMPLETED row
        assertThat(run(true, "audit", "find", "--email", "ann@example.com").out()).startsWith("1 request(s) for this email; ERASED")
                .doesNotContain("under a request id that");
    }

    @Test
    void findLocatesEveryRequestOfAPersonThroughTheKeyedHash() {
        Cli.Run r = run(true, "audit", "find", "--email", "  JANE@example.com ");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("2 request(s)", "ERASED", "r-jane").doesNotContain("jane@example.com");
        assertThat(r.err()).doesNotContain("invisible");
        // pasted with a zero-width space, which no request could hold: "no requests", and why
        Cli.Run pasted = run(true, "audit", "find", "--email", "jane@exam\u200bple.com");
        assertThat(pasted.exit()).isEqualTo(1);
        assertThat(pasted.err()).contains("cio-erasure: note: the email given holds an invisible or control character (U+200B, character"
                + " 10), which requests are refused for: if a copy and paste brought it in, search again without it");
        // pasted with a no-break space at the end (from a web page): String.trim() kept it, "no requests" for someone erased
        Cli.Run nbsp = run(true, "audit", "find", "--email", "\u00a0JANE@example.com\u00a0");
        assertThat(nbsp.exit()).isZero();
        assertThat(nbsp.out()).contains("2 request(s)", "ERASED", "r-jane");
        assertThat(nbsp.err()).contains("cio-erasure: note: the email given starts or ends with a space (U+00A0), which requests are"
                + " refused for: searched with and without it");
        assertThat(run(true, "audit", "find", "--id", "bob-42\u3000").out()).contains("r-bob", "r-late");
        assertThat(run(true, "audit", "find", "--email", "  JANE@example.com ").err()).as("ASCII spaces an email's form trims anyway")
                .doesNotContain("starts or ends");
        assertThat(run(true, "audit", "find", "--id", "bob-42").out()).contains("r-bob", "r-late");
        assertThat(run(true, "audit", "find", "--email", "nobody@example.com").exit()).isEqualTo(1);
        assertThat(run(true, "audit", "find", "--email", "nobody@example.com").err())
                .as("no fingerprint recorded yet: says that a wrong key cannot be told apart").contains("no key fingerprint");
        Cli.Run noKey = run(false, "audit", "find", "--email", "jane@example.com");
        assertThat(noKey.exit()).isEqualTo(78);
        assertThat(noKey.err()).contains("AUDIT_SUBJECT_KEY");
    }

    /**
     * "zoë" composed (NFC, what a keyboard types) and decomposed (NFD, e + combining diaeresis,
     * what some exports write) are different strings with different hashes: a person erased under
     * one was "no requests for this email" when searched with the other.
     */
    @Test
    void findFindsThePersonWhicheverUnicodeFormTheRequestUsed() throws Exception {
        String decomposed = java.text.Normalizer.normalize("zoë@exämple.org", java.text.Normalizer.Form.NFD);
        assertThat(decomposed).isNotEqualTo("zoë@exämple.org");
        Instant nov = Instant.parse("2026-11-02T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(row("r-zoe", hasher.hash(Identifier.email(decomposed)), "email", Step.OUTCOME, Outcome.COMPLETED, null,
                    "GDPR", nov, nov.plusSeconds(60), 20))).get(10, TimeUnit.SECONDS);
        }
        Cli.Run composed = run(true, "audit", "find", "--email", java.text.Normalizer.normalize("zoë@exämple.org",
                java.text.Normalizer.Form.NFC));
        assertThat(composed.exit()).as(composed.err()).isZero();
        assertThat(composed.out()).contains("1 request(s)", "ERASED", "r-zoe");
        assertThat(composed.err()).contains("another Unicode form");
        Cli.Run same = run(true, "audit", "find", "--email", decomposed);
        assertThat(same.out()).contains("r-zoe");
        assertThat(same.err()).doesNotContain("another Unicode form");
    }

    /** {@code -} reads the identifier from standard input: out of the shell's history and the process list. */
    @Test
    void findReadsTheIdentifierFromStandardInputWhenGivenADash() {
        Map<String, String> env = Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(), "DATABASE_PASSWORD", db.password().reveal(),
                "AUDIT_SUBJECT_KEY", KEY);
        Cli.Run jane = Cli.runWithInput(env, "jane@example.com\n", "audit", "find", "--email", "-");
        assertThat(jane.exit()).as(jane.err()).isZero();
        assertThat(jane.out()).contains("2 request(s)", "ERASED", "r-jane").doesNotContain("jane@example.com");
        assertThat(Cli.runWithInput(env, "bob-42\r\n", "audit", "find", "--id", "-").out()).contains("r-bob", "r-late");
        Cli.Run empty = Cli.runWithInput(env, "", "audit", "find", "--email", "-");
        assertThat(empty.exit()).isEqualTo(2);
        assertThat(empty.err()).contains("--email -: standard input holds no identifier (one line expected)");
    }

    @Test
    void findRefusesAKeyOtherThanTheTablesInsteadOfFindingNobody() throws Exception {
        new SubjectKeyFingerprint(ds, hasher).recordIfNone();
        Map<String, String> env = new HashMap<>(Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(),
                "DATABASE_PASSWORD", db.password().reveal(), "AUDIT_SUBJECT_KEY", "a-different-audit-key-0123456789"));
        Cli.Run wrong = Cli.run(env, "audit", "find", "--email", "jane@example.com");
        assertThat(wrong.exit()).isEqualTo(78);
        assertThat(wrong.err()).contains("AUDIT_SUBJECT_KEY: not the key this audit table was written with", "Changing the subject key")
                .doesNotContain("a-different-audit-key", KEY);
        assertThat(wrong.out()).doesNotContain("no requests");
        Cli.Run right = run(true, "audit", "find", "--email", "jane@example.com");
        assertThat(right.exit()).isZero();
        assertThat(right.err()).doesNotContain("fingerprint");
    }

    @Test
    void reportListsEachRequestOfThePeriodWithItsDeadlineVerdict() {
        Cli.Run csv = run(false, "audit", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv");
        assertThat(csv.exit()).isZero();
        List<String> lines = csv.out().lines().toList();
        assertThat(lines.get(0)).isEqualTo("request_id,regulation,identifier_type,requested_by,requested_at,deadline_at,first_seen_at,status,status_at,erased,on_time,verification,verified_at,workspaces");
        assertThat(lines).hasSize(3);
        assertThat(lines).anyMatch(l -> l.startsWith("r-jane,GDPR,email,desk/1,2026-11-02T09:00:00Z,2026-12-02T09:00:00Z,")
                && l.endsWith(",COMPLETED,2026-11-02T09:01:01Z,true,true,PENDING,,"));
        assertThat(lines).anyMatch(l -> l.startsWith("r-bob,CCPA") && l.endsWith(",RETRY_SCHEDULED,2026-11-02T10:01:40Z,false,,,,"));

        Cli.Run sept = run(false, "audit", "report", "--from", "2026-09-01", "--to", "2026-09-30", "--format", "json");
        assertThat(sept.out()).contains("\"request_id\" : \"r-late\"", "\"on_time\" : false", "\"erased\" : true");
        Cli.Run table = run(false, "audit", "report", "--from", "2026-09-01", "--to", "2026-11-30");
        assertThat(table.out()).contains("LATE", "3 request(s); 2 erased (1 late); 1 not erased");
        assertThat(run(false, "audit", "report", "--from", "yesterday", "--to", "2026-11-30").exit()).isEqualTo(2);
    }

    /** A request rejected before its requested_at could be read has none: it is in the report of the day it was first seen. */
    @Test
    void aRequestRejectedWithoutARequestedAtIsReportedOnTheDayItWasFirstSeen() throws Exception {
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(new AuditEvent("r-no-date", null, null, Step.OUTCOME, Outcome.REJECTED, null, null,
                    "INVALID_VALUE: requested_at must be an RFC 3339 timestamp with offset", null, null, null, null,
                    new KafkaCoordinates("erasure.requests", 0, 77), Instant.parse("2026-10-15T08:00:00Z")))).get(10, TimeUnit.SECONDS);
        }
        Cli.Run day = run(false, "audit", "report", "--from", "2026-10-15", "--to", "2026-10-15", "--format", "csv");
        assertThat(day.out()).containsPattern("(?m)^r-no-date,,,,,,\"?2026-10-15T08:00:00Z\"?,REJECTED,");
        assertThat(run(false, "audit", "report", "--from", "2026-10-16", "--to", "2026-10-31", "--format", "csv").out())
                .doesNotContain("r-no-date");
    }

    @Test
    void statusAndReportShowEachWorkspaceAndFoldTheirVerifications() throws Exception {
        String ann = hasher.hash(Identifier.id("ann-7"));
        Instant t = Instant.parse("2026-11-10T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(
                    row("r-two", ann, "id", Step.SUPPRESS, Outcome.SUCCEEDED, 200, "GDPR", t, t.plusSeconds(1), 10).inWorkspace("us"),
                    row("r-two", ann, "id", Step.DESTROY, Outcome.SUCCEEDED, 200, "GDPR", t, t.plusSeconds(1), 10).inWorkspace("us"),
                    row("r-two", ann, "id", Step.WORKSPACE, Outcome.SUCCEEDED, null, "GDPR", t, t.plusSeconds(1), 10).inWorkspace("us"),
                    row("r-two", ann, "id", Step.SUPPRESS, Outcome.FAILED, 400, "GDPR", t, t.plusSeconds(2), 10).inWorkspace("eu"),
                    row("r-two", ann, "id", Step.WORKSPACE, Outcome.FAILED, 400, "GDPR", t, t.plusSeconds(2), 10).inWorkspace("eu"),
                    row("r-two", ann, "id", Step.OUTCOME, Outcome.FAILED, 400, "GDPR", t, t.plusSeconds(2), 10)))
                    .get(10, TimeUnit.SECONDS);
        }
        Cli.Run failed = run(false, "audit", "status", "r-two");
        assertThat(failed.out()).contains("status      NOT ERASED", "workspaces  eu FAILED, us SUCCEEDED")
                .containsPattern("SUPPRESS  eu +FAILED");
        assertThat(run(false, "audit", "report", "--from", "2026-11-10", "--to", "2026-11-10", "--format", "csv").out())
                .containsPattern(",FAILED,2026-11-10T09:00:02Z,false,,,,\"?eu:FAILED;us:SUCCEEDED\"?\n");

        // replayed: erased in eu too; verified in us only so far, then in eu
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(
                    row("r-two", ann, "id", Step.SUPPRESS, Outcome.SUCCEEDED, 200, "GDPR", t, t.plusSeconds(60), 11).inWorkspace("eu"),
                    row("r-two", ann, "id", Step.DESTROY, Outcome.SUCCEEDED, 200, "GDPR", t, t.plusSeconds(60), 11).inWorkspace("eu"),
                    row("r-two", ann, "id", Step.WORKSPACE, Outcome.SUCCEEDED, null, "GDPR", t, t.plusSeconds(60), 11).inWorkspace("eu"),
                    row("r-two", ann, "id", Step.OUTCOME, Outcome.COMPLETED, null, "GDPR", t, t.plusSeconds(60), 11),
                    row("r-two", ann, "id", Step.VERIFY, Outcome.VERIFIED, 404, "GDPR", t, t.plusSeconds(90), 12).inWorkspace("us")))
                    .get(10, TimeUnit.SECONDS);
        }
        String csv = run(false, "audit", "report", "--from", "2026-11-10", "--to", "2026-11-10", "--format", "csv").out();
        assertThat(csv).as("verified in one of two workspaces: still pending")
                .containsPattern(",COMPLETED,2026-11-10T09:01:00Z,true,true,PENDING,,\"?eu:SUCCEEDED;us:SUCCEEDED\"?\n");
        assertThat(run(false, "audit", "status", "r-two").out()).contains("status      ERASED", "workspaces  eu SUCCEEDED, us SUCCEEDED",
                "verified    VERIFIED in us at 2026-11-10 09:01:30", "verified    PENDING in eu");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(row("r-two", ann, "id", Step.VERIFY, Outcome.VERIFIED, 404, "GDPR", t, t.plusSeconds(120), 13).inWorkspace("eu")))
                    .get(10, TimeUnit.SECONDS);
        }
        assertThat(run(false, "audit", "report", "--from", "2026-11-10", "--to", "2026-11-10", "--format", "csv").out())
                .containsPattern(",true,true,VERIFIED,2026-11-10T09:02:00Z,\"?eu:SUCCEEDED;us:SUCCEEDED\"?\n");
        java.nio.file.Path key = java.nio.file.Files.createTempFile("signing", ".pem");
        java.nio.file.Files.writeString(key, dev.cioerasure.evidence.SigningKey.generate().privateKeyPem());
        Cli.Run receipt = Cli.run(Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(), "DATABASE_PASSWORD", db.password().reveal(),
                "AUDIT_SIGNING_KEY_FILE", key.toString()), "audit", "receipt", "r-two");
        java.nio.file.Files.delete(key);
        assertThat(receipt.exit()).as(receipt.err()).isZero();
        assertThat(receipt.out()).contains("\"verification\":\"VERIFIED\"", "\"workspace\":\"eu\"", "\"workspace\":\"us\"");
    }

    @Test
    void reportNamesEachVerificationAndCountsThePersonsStillPresent() throws Exception {
        Instant old = Instant.parse("2026-09-01T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(new AuditEvent("r-late", hasher.hash(Identifier.id("bob-42")), "id", Step.VERIFY, Outcome.STILL_PRESENT, 200, 12,
                    "the App API still found the person at the verification deadline (check 12)", "GDPR", old,
                    old.plusSeconds(30L * 86400), "desk/1", new KafkaCoordinates("erasure.requests.verify", 0, 9),
                    Instant.parse("2026-10-16T00:00:00Z")))).get(10, TimeUnit.SECONDS);
        }
        Cli.Run table = run(false, "audit", "report", "--from", "2026-09-01", "--to", "2026-11-30");
        assertThat(table.out()).containsPattern("r-late .* STILL_PRESENT")
                .contains("1 erased request(s) STILL_PRESENT in Customer.io at their verification deadline: a compliance incident");
        assertThat(run(false, "audit", "report", "--from", "2026-09-01", "--to", "2026-09-30", "--format", "json").out())
                .contains("\"verification\" : \"STILL_PRESENT\"", "\"verified_at\" : \"2026-10-16T00:00:00Z\"");
        Cli.Run status = run(false, "audit", "status", "r-late");
        assertThat(status.out()).contains("verified    STILL_PRESENT at 2026-10-16 00:00:00 (the App API still found the person");
        assertThat(run(false, "audit", "status", "r-jane").out()).contains("verified    PENDING");
    }

    @Test
    void csvCellsCannotBecomeSpreadsheetFormulas() throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.io.PrintStream out = new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8);
        AuditCommand.ReportWriter w = AuditCommand.ReportWriter.of("csv", out);
        w.line(new AuditQueries.RequestLine("r-1", "GDPR", "email", "=HYPERLINK(\"x\")", null, null, null, "COMPLETED", null, true, null));
        w.line(new AuditQueries.RequestLine("r-2", "CCPA", "id", "desk,2\nline", null, null, null, "-1+1", null, false, false));
        w.close();
        List<String> lines = bytes.toString(java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        assertThat(lines.get(1)).isEqualTo("r-1,GDPR,email,\"'=HYPERLINK(\"\"x\"\")\",,,,COMPLETED,,true,,PENDING,,");
        assertThat(lines.get(2)).as("a line break in a cell is shown, not written (the worker writes none)")
                .isEqualTo("r-2,CCPA,id,\"desk,2\\u000aline\",,,,\"'-1+1\",,false,false,,,");
    }

    /**
     * Without a locale (LANG unset: a systemd unit, a cron job) Java wrote '?' for every character
     * outside ASCII, so what the commands print (here a requested_by such as "équipe") was changed;
     * CSV and JSON, which Jackson encodes itself, were not. The commands now write UTF-8 whatever
     * the locale (the production jar, run as a process).
     */
    @Test
    void outputIsUtf8EvenWithoutALocale() throws Exception {
        completed("r-utf", "p-utf", Instant.parse("2026-11-06T09:00:00Z"), "équipe-vie-privée/42", 10);
        ProcessBuilder pb = productionJar("audit", "status", "r-utf");
        pb.environment().keySet().removeIf(k -> k.equals("LANG") || k.startsWith("LC_") || k.equals("JAVA_TOOL_OPTIONS"));
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(err).isZero();
        assertThat(new String(out, StandardCharsets.UTF_8)).contains(" by équipe-vie-privée/42, deadline ", "ERASED at 2026-11-06 09:00:05");
    }

    /** One COMPLETED row of request {@code requestId} for the id {@code person}, requested at {@code at}. */
    private void completed(String requestId, String person, Instant at, String requestedBy, long offset) throws Exception {
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(new AuditEvent(requestId, hasher.hash(Identifier.id(person)), "id", Step.OUTCOME, Outcome.COMPLETED, null,
                    null, null, "GDPR", at, at.plusSeconds(30L * 86400), requestedBy,
                    new KafkaCoordinates("erasure.requests", 0, offset), at.plusSeconds(5)))).get(10, TimeUnit.SECONDS);
        }
    }

    /** The production jar as a process, with this test's database. */
    private ProcessBuilder productionJar(String... args) {
        List<String> command = new java.util.ArrayList<>(List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-jar", ProductionJarIT.JAR.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().putAll(Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(), "DATABASE_PASSWORD", db.password().reveal()));
        return pb;
    }

    /**
     * A report printed to a full disk left a cut proof behind exit 0: the commands took every
     * failed write for a reader gone ({@code | head}). Now a reader gone is still exit 0 and
     * silent; a lost output is exit 74, said on standard error (the production jar, run as a process).
     */
    @Test
    void anOutputThatCannotBeWrittenIsAnErrorAndAReaderGoneIsNot() throws Exception {
        completed("r-full", "p-full", Instant.parse("2026-11-07T09:00:00Z"), "desk/7", 11);
        for (String[] args : List.of(new String[] {"audit", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv"},
                new String[] {"audit", "status", "r-full"}, new String[] {"--help"})) {
            Process full = productionJar(args).redirectOutput(new java.io.File("/dev/full")).start();
            String err = new String(full.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(full.waitFor()).as(String.join(" ", args) + ": " + err).isEqualTo(74);
            assertThat(err).as(String.join(" ", args)).startsWith("cio-erasure: standard output could not be written (")
                    .endsWith("): what was printed is incomplete\n").hasLineCount(1);
        }
        // the reader gone before anything was written (| head -0): nothing to say, exit 0 as before
        Process gone = productionJar("audit", "report", "--from", "2026-11-01", "--to", "2026-11-30").start();
        gone.getInputStream().close();
        String err = new String(gone.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gone.waitFor()).as(err).isZero();
        assertThat(err).isEmpty();
    }

    /**
     * The writer role may insert any text. An escape sequence in a reason or a requested_by
     * reached the auditor's terminal as written, so a row could erase the line above it, or a line
     * break print a row that is not there. Every output of the audit commands now shows such
     * characters as text.
     */
    @Test
    void textInsertedWithTheWriterRoleCannotSteerTheAuditorsTerminal() throws Exception {
        String hostile = "ok\u001b[1A\u001b[2K\r\nFORGED COMPLETED\u202e\u0085\u0007";
        Instant nov = Instant.parse("2026-11-05T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(new AuditEvent("r-esc", hasher.hash(Identifier.email("jane@example.com")), "email", Step.OUTCOME,
                    Outcome.FAILED, 400, 1, hostile, "GDPR", nov, nov.plusSeconds(30L * 86400), hostile,
                    new KafkaCoordinates("erasure.requests", 0, 9), nov.plusSeconds(5)))).get(10, TimeUnit.SECONDS);
        }
        // another person's record under r-esc, rejected as reused, then erased under a hostile id: the status names that id
        String esc = hasher.hash(Identifier.email("esc-other@example.com"));
        Instant later = Instant.parse("2027-01-05T09:00:00Z");
        try (AuditWriter w = new AuditWriter(ds, "worker-a", new SimpleMeterRegistry())) {
            w.append(List.of(reused("r-esc", esc, "FAILED", "GDPR", later, later.plusSeconds(86400L * 30), 93, later))).get(10, TimeUnit.SECONDS);
            w.append(List.of(new AuditEvent("own" + hostile, esc, "email", Step.OUTCOME, Outcome.COMPLETED, null, null, null, "GDPR",
                    later, later.plusSeconds(86400L * 30), "desk/1", new KafkaCoordinates("erasure.requests", 0, 94),
                    later.plusSeconds(60)))).get(10, TimeUnit.SECONDS);
        }
        List<Cli.Run> runs = List.of(run(false, "audit", "status", "r-esc"), run(true, "audit", "find", "--email", "jane@example.com"),
                run(false, "audit", "report", "--from", "2026-11-01", "--to", "2026-11-30"),
                run(false, "audit", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv"),
                run(false, "audit", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"));
        for (Cli.Run r : runs) {
            assertThat(r.out()).contains("r-esc");
            assertThat(r.out().chars().filter(c -> c < 0x20 && c != '\n' || c >= 0x7f && c <= 0x9f || c == 0x202e).count())
                    .as(r.out()).isZero();
            assertThat(r.out()).doesNotContain("\nFORGED");
        }
        assertThat(runs.get(0).out()).contains("ok\\u001b[1A\\u001b[2K\\u000d\\u000aFORGED COMPLETED\\u202e\\u0085\\u0007",
                "erased since under an id of their own (ownok\\u001b[1A");
    }

    @Test
    void verifyReportsIntactThenTheFirstTamperedRow() throws Exception {
        Cli.Run ok = run(false, "audit", "verify");
        assertThat(ok.exit()).isZero();
        assertThat(ok.out()).contains("INTACT: 6 rows verified");
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("SET session_replication_role = replica");
            st.execute("UPDATE audit_event SET outcome = 'COMPLETED', reason = NULL WHERE request_id = 'r-bob'");
        }
        Cli.Run bad = run(false, "audit", "verify");
        assertThat(bad.exit()).isEqualTo(3);
        assertThat(bad.out()).contains("TAMPERED: 1 break(s)", "row 4", "edited");
        // rows deleted further on are reported too, not hidden behind the first break
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("SET session_replication_role = replica");
            st.execute("DELETE FROM audit_event WHERE chain_seq = 6");
        }
        Cli.Run all = run(false, "audit", "verify");
        assertThat(all.exit()).isEqualTo(3);
        assertThat(all.out()).contains("TAMPERED: 2 break(s)", "row 4", "edited", "the chain head records row 6 but the table ends at row 5");
        Cli.Run first = run(false, "audit", "verify", "--first");
        assertThat(first.exit()).isEqualTo(3);
        assertThat(first.out()).contains("TAMPERED: 1 break(s) in the chain (stopped at the first, --first)", "row 4")
                .doesNotContain("chain head");
    }

    /**
     * PostgreSQL's default search path begins with {@code "$user"}: a schema named like the login
     * role comes before {@code public}. A writer login that holds CREATE on the database (a common
     * over-grant, GRANT ALL ON DATABASE) makes one named like the auditor's login, with views that
     * end the chain at row 3 and hide the request still open: an auditor who read them would be told
     * INTACT, the truncated tail and r-bob unseen.
     */
    @Test
    void aSchemaNamedLikeTheAuditorsLoginCannotStandInForTheAuditTable() throws Exception {
        String suffix = java.util.UUID.randomUUID().toString().substring(0, 8);
        String writer = "writer_" + suffix;
        String auditor = "auditor_" + suffix;
        try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + writer + " LOGIN PASSWORD 'w' IN ROLE cio_erasure_writer");
            st.execute("CREATE ROLE " + auditor + " LOGIN PASSWORD 'a' IN ROLE cio_erasure_auditor");
            st.execute("GRANT CREATE ON DATABASE " + c.getCatalog() + " TO " + writer);
        }
        try (Connection c = TestInfra.dataSource(new Settings.Database(db.url(), writer, Secret.of("P", "w"), 1)).getConnection();
             Statement st = c.createStatement()) {
            st.execute("CREATE SCHEMA " + auditor);
            st.execute("GRANT USAGE ON SCHEMA " + auditor + " TO PUBLIC");
            st.execute("CREATE VIEW " + auditor + ".audit_event AS SELECT * FROM public.audit_event WHERE chain_seq <= 3");
            st.execute("CREATE VIEW " + auditor + ".audit_chain_head AS SELECT true AS singleton, last.chain_seq AS last_seq,"
                    + " last.row_hash AS last_hash FROM public.audit_event last WHERE last.chain_seq = 3");
            st.execute("GRANT SELECT ON " + auditor + ".audit_event, " + auditor + ".audit_chain_head TO PUBLIC");
        }
        Map<String, String> env = Map.of("DATABASE_URL", db.url(), "DATABASE_USER", auditor, "DATABASE_PASSWORD", "a");
        Cli.Run verify = Cli.run(env, "audit", "verify");
        assertThat(verify.exit()).isZero();
        assertThat(verify.out()).as("the real table's six rows, not the look-alike's three").contains("INTACT: 6 rows verified");
        Cli.Run bob = Cli.run(env, "audit", "status", "r-bob");
        assertThat(bob.exit()).isZero();
        assertThat(bob.out()).contains("RETRY_SCHEDULED");
    }

    @Test
    void aSignedReceiptIsIssuedFromTheTableAndCheckedOffline(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path key = dir.resolve("signing.pem");
        java.nio.file.Files.writeString(key, dev.cioerasure.evidence.SigningKey.generate().privateKeyPem());
        Cli.Run noKey = run(false, "audit", "receipt", "r-jane");
        assertThat(noKey.exit()).isEqualTo(78);
        assertThat(noKey.err()).contains("AUDIT_SIGNING_KEY_FILE: not set", "openssl genpkey -algorithm ed25519");
        String pasted = "-----BEGIN PRIVATE KEY-----MC4CAQAwBQYDK2VwBCIEIPasted-----END PRIVATE KEY-----";
        Cli.Run keyInsteadOfPath = Cli.run(Map.of("AUDIT_SIGNING_KEY_FILE", pasted), "audit", "public-key");
        assertThat(keyInsteadOfPath.exit()).isEqualTo(78);
        assertThat(keyInsteadOfPath.err()).contains("AUDIT_SIGNING_KEY_FILE: cannot read", "not shown").doesNotContain("MC4CAQ");

        Map<String, String> env = new HashMap<>(Map.of("DATABASE_URL", db.url(), "DATABASE_USER", db.user(),
                "DATABASE_PASSWORD", db.password().reveal(), "AUDIT_SIGNING_KEY_FILE", key.toString()));
        java.nio.file.Path receipt = dir.resolve("r-jane.receipt.json");
        Cli.Run issued = Cli.run(env, "audit", "receipt", "r-jane", "--out", receipt.toString());
        assertThat(issued.exit()).as(issued.err()).isZero();
        String json = java.nio.file.Files.readString(receipt);
        try (java.sql.Connection c = ds.getConnection(); java.sql.ResultSet rs = c.createStatement().executeQuery(
                "SELECT chain_seq, row_hash FROM audit_event WHERE request_id = 'r-jane' ORDER BY chain_seq")) {
            int n = 0;
            while (rs.next()) {
                assertThat(json).contains("\"chain_seq\":" + rs.getLong(1) + ",").contains("\"row_hash\":\"" + rs.getString(2) + "\"");
                n++;
            }
            assertThat(n).isEqualTo(3);
        }
        assertThat(json).contains("\"status\":\"COMPLETED\"", "\"on_time\":true").doesNotContain("jane@example.com");

        Cli.Run pub = Cli.run(env, "audit", "public-key");
        assertThat(pub.exit()).isZero();
        assertThat(pub.out()).startsWith("-----BEGIN PUBLIC KEY-----");
        assertThat(pub.err()).containsPattern("sha256 of the key .*: [0-9a-f]{64}");
        assertThat(json).contains("\"public_key_sha256\":\"" + pub.err().replaceAll("(?s).*: ([0-9a-f]{64}).*", "$1") + "\"");
        java.nio.file.Path pem = dir.resolve("public.pem");
        java.nio.file.Files.writeString(pem, pub.out());
        Cli.Run valid = Cli.run(Map.of(), "audit", "receipt", "--verify", receipt.toString(), "--public-key", pem.toString());
        assertThat(valid.exit()).isZero();
        assertThat(valid.out()).startsWith("VALID");

        java.nio.file.Files.writeString(receipt, json.replace("\"attempts\":1", "\"attempts\":2"));
        Cli.Run changed = Cli.run(Map.of(), "audit", "receipt", "--verify", receipt.toString(), "--public-key", pem.toString());
        assertThat(changed.exit()).isEqualTo(3);
        assertThat(changed.out()).startsWith("NOT VALID: the signature does not match");
        // a file that is missing is a bad argument (it was exit 70 with a NoSuchFileException); one far larger
        // than any receipt is none, and is not read whole (200 MB ran a 64 MB JVM out of memory, exit 70)
        Cli.Run missing = Cli.run(Map.of(), "audit", "receipt", "--verify", dir.resolve("nope.json").toString(), "--public-key",
                pem.toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("--verify " + dir.resolve("nope.json") + ": no such file").doesNotContain("Exception");
        java.nio.file.Path huge = dir.resolve("huge.json");
        try (var w = java.nio.file.Files.newOutputStream(huge)) {
            byte[] mb = new byte[1024 * 1024];
            java.util.Arrays.fill(mb, (byte) 'a');
            for (int i = 0; i < 3; i++) {
                w.write(mb);
            }
        }
        Cli.Run tooLarge = Cli.run(Map.of(), "audit", "receipt", "--verify", huge.toString(), "--public-key", pem.toString());
        assertThat(tooLarge.exit()).isEqualTo(3);
        assertThat(tooLarge.out()).startsWith("NOT VALID: not a receipt").contains("larger than any receipt (over 1 MiB)");
        assertThat(Cli.run(env, "audit", "receipt", "r-nobody").exit()).isEqualTo(1);

        java.nio.file.Path bulk = dir.resolve("november");
        Cli.Run report = Cli.run(env, "audit", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--receipts", bulk.toString());
        assertThat(report.exit()).as(report.err()).isZero();
        assertThat(report.err()).contains("2 receipt(s) written to " + bulk);
        try (var files = java.nio.file.Files.list(bulk)) {
            assertThat(files.map(f -> f.getFileName().toString()).sorted().toList()).containsExactly("r-bob.receipt.json", "r-jane.receipt.json");
        }
        for (String r : List.of("r-bob", "r-jane")) {
            Cli.Run check = Cli.run(Map.of(), "audit", "receipt", "--verify", bulk.resolve(r + ".receipt.json").toString(), "--public-key",
                    pem.toString());
            assertThat(check.exit()).as(r).isZero();
        }
        assertThat(AuditCommand.Report.fileName("../../etc/x")).matches("request-[0-9a-f]{32}\\.receipt\\.json");
        assertThat(AuditCommand.Report.fileName("..")).startsWith("request-");
        assertThat(AuditCommand.Report.fileName("r-1.a_b")).isEqualTo("r-1.a_b.receipt.json");
        // two ids that differ only in case were one file on a disk that ignores case; ':' is refused by Windows
        assertThat(AuditCommand.Report.fileName("R-1")).matches("r-1\\.[0-9a-f]{12}\\.receipt\\.json")
                .isNotEqualToIgnoringCase(AuditCommand.Report.fileName("r-1"));
        assertThat(AuditCommand.Report.fileName("Ticket:4711")).matches("ticket_4711\\.[0-9a-f]{12}\\.receipt\\.json")
                .isNotEqualToIgnoringCase(AuditCommand.Report.fileName("TICKET:4711"));
    }
}
