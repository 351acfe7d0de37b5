package dev.cioerasure.cli;

import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A privacy person submits a file of requests; the worker erases them once, however often the file is submitted. */
class SubmitIT {
    private WireMockServer track;
    private WorkerHarness h;
    @TempDir
    Path dir;

    @BeforeEach
    void setUp() throws Exception {
        track = TrackStubs.started();
        h = WorkerHarness.forStub(URI.create(track.baseUrl()));
    }

    @AfterEach
    void tearDown() {
        h.close();
        track.stop();
    }


    private Cli.Run submit(String... args) {
        Map<String, String> env = Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(), "ERASURE_TOPIC", h.topic,
                "AUDIT_SUBJECT_KEY", WorkerHarness.AUDIT_KEY);
        String[] all = new String[args.length + 1];
        all[0] = "submit";
        System.arraycopy(args, 0, all, 1, args.length);
        return Cli.run(env, all);
    }

    /**
     * SIGTERM (or Ctrl-C) while a large file is being sent: submit said nothing and recorded
     * nothing, though thousands of its requests were on their way. It now stops sending, records
     * what Kafka acknowledged, says so, and exits with the signal's code; --skip-submitted then
     * sends exactly the rest.
     */
    @Test
    void aSubmitStoppedBySigtermRecordsWhatItSentAndTheRestIsSentBySkipSubmitted() throws Exception {
        String topic = h.topic + ".stopped";
        dev.cioerasure.testing.TestInfra.kafka().createTopics(1, topic);
        int rows = 200_000;
        Path csv = dir.resolve("bulk.csv");
        try (java.io.BufferedWriter w = Files.newBufferedWriter(csv)) {
            w.write("identifier_type,identifier,regulation,requested_by\n");
            for (int i = 0; i < rows; i++) {
                w.write("id,bulk-" + i + ",GDPR,retention/2026\n");
            }
        }
        Map<String, String> env = Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(), "ERASURE_TOPIC", topic,
                "AUDIT_SUBJECT_KEY", WorkerHarness.AUDIT_KEY);
        Path jar = Path.of("target", "cio-erasure.jar");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                Files.exists(jar) ? jar.toString() : System.getProperty("java.class.path"), "dev.cioerasure.cli.Main", "submit",
                "--file", csv.toString());
        pb.environment().putAll(env);
        Path err = dir.resolve("stderr.txt");
        Process p = pb.redirectError(err.toFile()).redirectOutput(dir.resolve("stdout.txt").toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(err).matches("(?s).*\\] [1-9][0-9]*/200000 acknowledged.*"));
            p.destroy(); // SIGTERM
            assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        String said = Files.readString(err);
        assertThat(p.exitValue()).as(said).isEqualTo(143);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("stopped by a signal after sending (\\d+) of 200000 request\\(s\\): the"
                + " (\\d+) Kafka acknowledged are recorded in (\\S+)\\. Run submit again with --skip-submitted").matcher(said);
        assertThat(m.find()).as(said).isTrue();
        int sent = Integer.parseInt(m.group(1));
        assertThat(Integer.parseInt(m.group(2))).isEqualTo(sent);
        assertThat(sent).as("stopped part-way").isBetween(1, rows - 1);
        Path record = dir.resolve("bulk.submitted.csv");
        assertThat(m.group(3)).isEqualTo(record.toString());
        try (var lines = Files.lines(record)) {
            assertThat(lines.count() - 1).as("recorded rows").isEqualTo(sent);
        }
        assertThat(endOffset(topic)).as("on the topic").isEqualTo(sent);

        Cli.Run rest = Cli.run(env, "submit", "--file", csv.toString(), "--skip-submitted");
        assertThat(rest.exit()).as(rest.err()).isZero();
        assertThat(rest.out()).contains("submitted " + (rows - sent) + " request(s)");
        assertThat(endOffset(topic)).as("each request sent once").isEqualTo(rows);
    }

    private static long endOffset(String topic) throws Exception {
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(Map.of("bootstrap.servers",
                dev.cioerasure.testing.TestInfra.kafka().bootstrapServers()))) {
            org.apache.kafka.common.TopicPartition tp = new org.apache.kafka.common.TopicPartition(topic, 0);
            return admin.listOffsets(Map.of(tp, org.apache.kafka.clients.admin.OffsetSpec.latest())).partitionResult(tp).get().offset();
        }
    }

    @Test
    void aRequestKafkaRefusesIsNamedAndOnlyTheAcknowledgedOnesAreRecorded() throws Exception {
        // a topic that takes records of at most 400 bytes: the long row is refused, the others go
        String small = h.topic + ".small";
        dev.cioerasure.testing.TestInfra.kafka().createTopic(small, 1, Map.of("max.message.bytes", "400"));
        StringBuilder csv = new StringBuilder("request_id,identifier_type,identifier,regulation,requested_by\n");
        for (int i = 0; i < 5; i++) {
            csv.append("small-").append(i).append(",email,p").append(i).append("@example.com,GDPR,desk-").append(i).append('\n');
        }
        csv.append("too-long,email,").append("x".repeat(200)).append("@example.com,GDPR,").append("d".repeat(150)).append('\n');
        Path file = Files.writeString(dir.resolve("mixed.csv"), csv);
        Map<String, String> env = Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(), "ERASURE_TOPIC", small,
                "AUDIT_SUBJECT_KEY", WorkerHarness.AUDIT_KEY);
        Cli.Run r = Cli.run(env, "submit", "--file", file.toString());
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("Kafka did not acknowledge 1 of 6 request(s); the 5 it acknowledged are recorded in",
                "request too-long: larger than the topic accepts (its max.message.bytes): RecordTooLargeException",
                "run submit again with --skip-submitted").doesNotContain("xxxxxxxx", "ExecutionException");
        String recorded = Files.readString(dir.resolve("mixed.submitted.csv"));
        assertThat(recorded).contains("small-0", "small-4").doesNotContain("too-long");
        assertThat(h.read(small, 5, Duration.ofSeconds(10))).hasSize(5);
    }

    @Test
    void aCsvIsSubmittedWithGeneratedIdsAndResubmittingItErasesNobodyTwice() throws Exception {
        Path csv = dir.resolve("november.csv");
        Files.writeString(csv, """
                request_id,identifier_type,identifier,regulation,requested_at,requested_by
                ticket-1,email,"alice@example.com",GDPR,2026-11-20T10:00:00Z,privacy-desk/4711
                ,email,bob+news@example.com,CCPA,2026-11-21T10:00:00Z,privacy-desk/4712
                ,id,customer-77,GDPR,,privacy-desk/4713
                ,cio_id,a30001,GDPR,2026-11-22T10:00:00Z,privacy-desk/4714
                """);
        Cli.Run r = submit("--file", csv.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("submitted 4 request(s)", "3 of their ids generated", "november.submitted.csv");
        Files.setLastModifiedTime(dir.resolve("november.submitted.csv"),
                java.nio.file.attribute.FileTime.from(java.time.Instant.parse("2026-11-25T09:30:00Z")));
        assertThat(r.err()).contains("4/4 acknowledged");
        String written = Files.readString(dir.resolve("november.submitted.csv"));
        assertThat(written).contains("ticket-1,", "sub-ccpa-", "sub-gdpr-");
        assertThat(h.read(h.topic, 4, Duration.ofSeconds(10))).hasSize(4).allSatisfy(rec -> assertThat(rec.key()).hasSize(64));

        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 4);
        Cli.Run again = submit("--file", csv.toString());
        assertThat(again.exit()).as("a repeat is stopped and explained").isEqualTo(1);
        assertThat(again.err()).contains("4 of 4 row(s) were already submitted on 2026-11-25T09:30:00Z", "Nothing was sent",
                "Every row was; re-run with --resubmit to send all 4 again.").as("no advice to send 0 new rows")
                .doesNotContain("--skip-submitted");
        assertThat(submit("--file", csv.toString(), "--skip-submitted").out()).contains("nothing new to send");
        Thread.sleep(1000);
        assertThat(h.outcomes()).isEqualTo(4);
        Cli.Run forced = submit("--file", csv.toString(), "--resubmit");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(forced.err()).contains("sending them again");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 8);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'COMPLETED'")).isEqualTo(4);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'DUPLICATE'")).isEqualTo(4);
        track.verify(4, postRequestedFor(urlPathMatching(".*/suppress")));
    }

    @Test
    void aCsvMayNameWorkspacesAndTheWorkerRejectsOneItDoesNotServe() throws Exception {
        Path csv = dir.resolve("brands.csv");
        Files.writeString(csv, """
                request_id,identifier_type,identifier,regulation,requested_at,requested_by,workspaces
                ws-1,id,customer-1,GDPR,2026-11-20T10:00:00Z,privacy-desk/1,default
                ws-2,id,customer-2,GDPR,2026-11-20T10:00:00Z,privacy-desk/2,default;nowhere
                ws-3,id,customer-3,GDPR,2026-11-20T10:00:00Z,privacy-desk/3,
                ,id,customer-4,GDPR,2026-11-20T10:00:00Z,privacy-desk/4,
                ,id,customer-4,GDPR,2026-11-20T10:00:00Z,privacy-desk/4,default
                """);
        Cli.Run r = submit("--file", csv.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).as("the same person in another set of workspaces is another request").contains("submitted 5 request(s)");
        assertThat(Files.readString(dir.resolve("brands.submitted.csv"))).contains("workspaces", "default nowhere");
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 5);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(4);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'ws-2' AND outcome = 'REJECTED'"
                + " AND reason = 'INVALID_VALUE: workspaces: 1 unknown workspace (configured: default)'")).isEqualTo(1);
    }

    @Test
    void badRowsAreReportedByLineAndNothingIsSent() throws Exception {
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, """
                request_id,identifier_type,identifier,regulation,requested_at,requested_by
                r-1,email,ok@example.com,GDPR,2026-11-20T10:00:00Z,desk
                r-2,email,not-an-email,GDPR,2026-11-20T10:00:00Z,desk
                r-3,id,someone@example.com,GDPR,2026-11-20T10:00:00Z,desk
                r-1,email,again@example.com,GDPR,2026-11-20T10:00:00Z,desk
                r-5,email,x@example.com,LGPD,2026-11-20T10:00:00Z,desk
                erase-user-8812,id,user-8812,GDPR,2026-11-20T10:00:00Z,desk
                """);
        Cli.Run r = submit("--file", csv.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("5 of 6 row(s)", "nothing was sent", "line 3:", "line 4:", "line 5: request_id repeats the one on line 2",
                "line 6:", "line 7: INVALID_VALUE: request_id holds the identifier's value")
                .doesNotContain("not-an-email", "someone@example.com", "again@example.com", "user-8812"); // (the temporary directory's name may hold digits)
        assertThat(h.read(h.topic, 1, Duration.ofSeconds(3))).isEmpty();

        Path noHeader = dir.resolve("noheader.csv");
        Files.writeString(noHeader, "email,name\njane@example.com,Jane\n");
        Cli.Run h2 = submit("--file", noHeader.toString());
        assertThat(h2.exit()).isEqualTo(1);
        assertThat(h2.err()).contains("the CSV header must name the columns", "missing: identifier, identifier_type, regulation, requested_by");
    }

    @Test
    void ndjsonWorksAndDryRunSendsNothing() throws Exception {
        Path nd = dir.resolve("requests.ndjson");
        Files.writeString(nd, """
                {"request_id":"n-1","identifier":{"type":"email","value":"n1@example.com"},"regulation":"GDPR","requested_at":"2026-11-20T10:00:00Z","requested_by":"desk"}

                {"identifier":{"type":"id","value":"n-2"},"regulation":"CCPA","requested_by":"desk"}
                """);
        Cli.Run dry = submit("--file", nd.toString(), "--dry-run");
        assertThat(dry.exit()).isZero();
        assertThat(dry.out()).contains("2 request(s) valid; nothing sent");
        assertThat(dir.resolve("requests.submitted.ndjson")).as("a dry run writes nothing").doesNotExist();
        assertThat(h.read(h.topic, 1, Duration.ofSeconds(3))).isEmpty();
        Cli.Run r = submit("--file", nd.toString());
        assertThat(r.exit()).isZero();
        assertThat(h.read(h.topic, 2, Duration.ofSeconds(10))).hasSize(2);
        assertThat(Files.readString(dir.resolve("requests.submitted.ndjson"))).contains("\"request_id\":\"n-1\"", "\"request_id\":\"sub-ccpa-");
    }

    @Test
    void aNewRequestForSomeoneErasedBeforeIsErasedAgainAndOnlyNewRowsAreSent() throws Exception {
        Path first = dir.resolve("first.csv");
        Files.writeString(first, """
                identifier_type,identifier,regulation,requested_by
                email,carol@example.com,GDPR,privacy-desk/5001
                """);
        assertThat(submit("--file", first.toString()).exit()).isZero();
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);

        // Months later Carol signed up again and asks again: a new ticket, a new request.
        Files.writeString(first, """
                identifier_type,identifier,regulation,requested_by
                email,carol@example.com,GDPR,privacy-desk/5001
                email,carol@example.com,GDPR,privacy-desk/6002
                """);
        Cli.Run stopped = submit("--file", first.toString());
        assertThat(stopped.exit()).isEqualTo(1);
        assertThat(stopped.err()).contains("1 of 2 row(s) were already submitted", "--skip-submitted to send only the 1 new row(s)");
        assertThat(submit("--file", first.toString(), "--skip-submitted", "--dry-run").out())
                .contains("1 request(s) valid; nothing sent (--dry-run); 1 of their ids would be generated");
        Cli.Run onlyNew = submit("--file", first.toString(), "--skip-submitted");
        assertThat(onlyNew.exit()).as(onlyNew.err()).isZero();
        assertThat(onlyNew.out()).as("the ids of the rows sent, not of those skipped")
                .contains("submitted 1 request(s)", "; 1 of their ids generated;");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 2);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'"))
                .as("erased again for the new ticket").isEqualTo(2);
        assertThat(h.count("SELECT count(DISTINCT request_id) FROM audit_event WHERE requested_by LIKE 'privacy-desk/%'")).isEqualTo(2);
        track.verify(2, postRequestedFor(urlPathMatching(".*/suppress")));
        assertThat(Files.readString(dir.resolve("first.submitted.csv")).lines().count()).as("header + both requests").isEqualTo(3);
    }
}
