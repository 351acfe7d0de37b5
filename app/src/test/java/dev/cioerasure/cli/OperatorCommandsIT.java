package dev.cioerasure.cli;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/** What an operator does when something is dead-lettered or parked, through the real commands. */
// Alone: a stop is checked for warnings in the log, which classes running alongside share.
@Isolated
class OperatorCommandsIT {
    private WireMockServer track;
    private WorkerHarness h;

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

    private Map<String, String> env() {
        return Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(),
                "ERASURE_TOPIC", h.topic, "ERASURE_GROUP_ID", h.settings.kafka().groupId());
    }


    private Cli.Run run(String... args) {
        return Cli.run(env(), args);
    }

    @Test
    void aFailedRequestIsListedAndReplayedOnceTheCauseIsFixed() throws Exception {
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/fix-me/suppress")).atPriority(1)
                .willReturn(aResponse().withStatus(404).withBody("{}")));
        h.send(Messages.request("r-fix", "id", "fix-me"));
        h.send("{\"request_id\":\"r-broken\"}".getBytes(StandardCharsets.UTF_8));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 2);
        // the audit row and the dead-letter copy are written in parallel: wait for both copies too
        assertThat(h.deadLetters(2, Duration.ofSeconds(30))).hasSize(2);

        Cli.Run list = run("dlq", "list");
        assertThat(list.exit()).isZero();
        assertThat(list.out()).contains("r-fix", "PERMANENT_FAILURE", "r-broken", "MISSING_FIELD", "2 record(s)");
        assertThat(list.out()).doesNotContain("fix-me");
        assertThat(run("dlq", "list", "--reason", "MISSING_FIELD").out()).contains("1 record(s)").doesNotContain("r-fix");
        // a typo in --reason matches nothing: the operator is told which codes there are, not only "nothing"
        Cli.Run typo = run("dlq", "replay", "--reason", "MISSING");
        assertThat(typo.exit()).isEqualTo(1);
        assertThat(typo.err()).contains("no dead-lettered record has reason code MISSING; the codes on the DLQ: MISSING_FIELD (1),"
                + " PERMANENT_FAILURE (1)", "nothing replayed");
        assertThat(run("dlq", "list", "--reason", "MISSING").err()).contains("the codes on the DLQ: MISSING_FIELD (1), PERMANENT_FAILURE (1)");

        // a record rejected for its content comes back rejected if replayed unchanged: skipped, unless forced
        Cli.Run all = run("dlq", "replay", "--all", "--dry-run");
        assertThat(all.out()).contains("(request r-fix, PERMANENT_FAILURE)", "1 record(s) would be replayed").doesNotContain("r-broken");
        assertThat(all.err()).contains("skipped 1 record(s) rejected for their content (MISSING_FIELD 1): replayed unchanged they"
                + " would be rejected again; resubmit them corrected from their source (--force replays them anyway)");
        Cli.Run broken = run("dlq", "replay", "--reason", "MISSING_FIELD");
        assertThat(broken.exit()).isEqualTo(1);
        assertThat(broken.err()).contains("skipped 1 record(s) rejected for their content", "nothing left to replay");
        assertThat(run("dlq", "replay", "--reason", "MISSING_FIELD", "--force", "--dry-run").out())
                .contains("(request r-broken, MISSING_FIELD)", "1 record(s) would be replayed");

        Cli.Run dry = run("dlq", "replay", "--request-id", "r-fix", "--dry-run");
        assertThat(dry.out()).contains("1 record(s) would be replayed");
        assertThat(h.outcomes()).isEqualTo(2);

        track.resetMappings();
        TrackStubs.healthy(track);
        Cli.Run replay = run("dlq", "replay", "--request-id", "r-fix");
        assertThat(replay.exit()).isZero();
        assertThat(replay.out()).contains("1 record(s) replayed");
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-fix' AND outcome = 'COMPLETED'") == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-fix' AND step = 'OUTCOME' AND outcome = 'FAILED'"))
                .as("the failure stays on record").isEqualTo(1);
        assertThat(h.count("SELECT count(*) FROM erasure_request_status WHERE request_id = 'r-fix' AND status = 'COMPLETED' AND erased"))
                .isEqualTo(1);

        // replaying again erases nobody twice
        assertThat(run("dlq", "replay", "--request-id", "r-fix").exit()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-fix' AND outcome = 'DUPLICATE'") == 1);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE request_id = 'r-fix' AND outcome = 'COMPLETED'")).isEqualTo(1);
    }

    @Test
    void aRecordTheRetryTopicRefusesIsNamedAndTheOthersAreReplayed() throws Exception {
        // a deployment whose retry topic takes smaller records than its DLQ
        String topic = h.topic + "-small-retry";
        dev.cioerasure.testing.TestInfra.kafka().createTopics(1, topic, topic + ".dlq");
        dev.cioerasure.testing.TestInfra.kafka().createTopic(topic + ".retry", 1, Map.of("max.message.bytes", "2000"));
        try (var producer = new dev.cioerasure.kafka.KafkaClients(h.settings.kafka()).producer("it-dlq-writer", Map.of())) {
            for (String[] r : new String[][] {{"r-small", "x"}, {"r-large", "x".repeat(4000)}, {"r-small-2", "y"}}) {
                var rec = new org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]>(topic + ".dlq", null,
                        "k".getBytes(StandardCharsets.UTF_8), ("{\"pad\":\"" + r[1] + "\"}").getBytes(StandardCharsets.UTF_8));
                rec.headers().add(dev.cioerasure.kafka.TopicHeaders.REQUEST_ID, r[0].getBytes(StandardCharsets.UTF_8))
                        .add(dev.cioerasure.kafka.TopicHeaders.REASON_CODE, "RETRIES_EXHAUSTED".getBytes(StandardCharsets.UTF_8));
                producer.send(rec).get();
            }
        }
        Cli.Run replay = Cli.run(Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(), "ERASURE_TOPIC", topic),
                "dlq", "replay", "--all");
        assertThat(replay.exit()).as(replay.err()).isEqualTo(1);
        assertThat(replay.out()).contains("2 record(s) replayed to " + topic + ".retry");
        assertThat(replay.err()).contains("1 of 3 record(s) were not replayed",
                "0@1 (request r-large): larger than the topic accepts (its max.message.bytes): RecordTooLargeException")
                .doesNotContain("ExecutionException");
        assertThat(h.read(topic + ".retry", 2, Duration.ofSeconds(10))).hasSize(2);
    }

    /** A record dead-lettered twice (redone after a restart) is replayed once; each copy was, and its request processed again. */
    @Test
    void aRecordDeadLetteredTwiceIsReplayedOnce() throws Exception {
        String topic = h.topic + "-twice";
        dev.cioerasure.testing.TestInfra.kafka().createTopics(1, topic, topic + ".dlq", topic + ".retry");
        try (var producer = new dev.cioerasure.kafka.KafkaClients(h.settings.kafka()).producer("it-dlq-writer", Map.of())) {
            for (String[] r : new String[][] {{"r-twice", "5"}, {"r-once", "6"}, {"r-twice", "5"}}) {
                var rec = new org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]>(topic + ".dlq", null,
                        "k".getBytes(StandardCharsets.UTF_8), Messages.request(r[0], "id", "person-" + r[0]));
                rec.headers().add(dev.cioerasure.kafka.TopicHeaders.REQUEST_ID, r[0].getBytes(StandardCharsets.UTF_8))
                        .add(dev.cioerasure.kafka.TopicHeaders.REASON_CODE, "RETRIES_EXHAUSTED".getBytes(StandardCharsets.UTF_8))
                        .add(dev.cioerasure.kafka.TopicHeaders.ORIGINAL_TOPIC, topic.getBytes(StandardCharsets.UTF_8))
                        .add(dev.cioerasure.kafka.TopicHeaders.ORIGINAL_PARTITION, "0".getBytes(StandardCharsets.UTF_8))
                        .add(dev.cioerasure.kafka.TopicHeaders.ORIGINAL_OFFSET, r[1].getBytes(StandardCharsets.UTF_8))
                        .add(dev.cioerasure.kafka.TopicHeaders.ORIGINAL_TIMESTAMP, "1700000000000".getBytes(StandardCharsets.UTF_8));
                producer.send(rec).get();
            }
        }
        Map<String, String> env = Map.of("KAFKA_BOOTSTRAP_SERVERS", h.settings.kafka().bootstrapServers(), "ERASURE_TOPIC", topic);
        assertThat(Cli.run(env, "dlq", "list").out()).contains("3 record(s)");
        Cli.Run dry = Cli.run(env, "dlq", "replay", "--all", "--dry-run");
        assertThat(dry.out()).contains("(request r-twice, RETRIES_EXHAUSTED)", "(request r-once, RETRIES_EXHAUSTED)",
                "2 record(s) would be replayed");
        assertThat(dry.err()).contains("skipped 1 more copy(ies) of record(s) dead-lettered more than once");
        Cli.Run replay = Cli.run(env, "dlq", "replay", "--request-id", "r-twice");
        assertThat(replay.exit()).as(replay.err()).isZero();
        assertThat(replay.out()).contains("1 record(s) replayed to " + topic + ".retry");
        assertThat(h.read(topic + ".retry", 2, Duration.ofSeconds(3))).hasSize(1);
    }

    @Test
    void replayNeedsASelectionAndSaysWhenNothingMatches() {
        Cli.Run none = run("dlq", "replay");
        assertThat(none.exit()).isEqualTo(2);
        assertThat(none.err()).contains("--request-id", "--reason", "--all");
        Cli.Run nothing = run("dlq", "replay", "--request-id", "no-such-request");
        assertThat(nothing.exit()).isEqualTo(1);
        assertThat(nothing.err()).contains("no dead-lettered record matches");
        for (String command : new String[] {"list", "replay"}) {
            Cli.Run bad = run("dlq", command, "--request-id", "jane@example.com\t");
            assertThat(bad.exit()).isEqualTo(2);
            assertThat(bad.err()).contains("--request-id: not a request id").doesNotContain("jane");
        }
    }

    /**
     * After a long outage a DLQ may hold a whole bulk purge: replaying 160 MB of dead letters
     * needs no more heap than their coordinates (the bodies are read again as they are sent).
     */
    @Test
    void aLargeDeadLetterQueueIsReplayedInASmallHeap() throws Exception {
        int records = 40_000;
        byte[] value = new byte[4096];
        java.util.Arrays.fill(value, (byte) 'x');
        try (org.apache.kafka.clients.producer.Producer<byte[], byte[]> p = new dev.cioerasure.kafka.KafkaClients(h.settings.kafka())
                .producer("it-dlq-filler", Map.of())) {
            for (int i = 0; i < records; i++) {
                org.apache.kafka.clients.producer.ProducerRecord<byte[], byte[]> r =
                        new org.apache.kafka.clients.producer.ProducerRecord<>(h.topic + ".dlq", value);
                r.headers().add(TopicHeaders.REQUEST_ID, ("r-" + i).getBytes(StandardCharsets.UTF_8));
                r.headers().add(TopicHeaders.REASON_CODE, "RETRIES_EXHAUSTED".getBytes(StandardCharsets.UTF_8));
                p.send(r);
            }
            p.flush();
        }
        ProductionJarIT.Run replay = ProductionJarIT.javaJar(ProductionJarIT.JAR, env(), List.of("-Xmx96m"), "dlq", "replay", "--all");
        assertThat(replay.exit()).as(replay.out()).isZero();
        assertThat(replay.out()).contains(records + " record(s) replayed to " + h.topic + ".retry");
        try (org.apache.kafka.clients.consumer.Consumer<byte[], byte[]> c = new dev.cioerasure.kafka.KafkaClients(h.settings.kafka())
                .consumer("it-retry-count", Map.of())) {
            var parts = c.partitionsFor(h.topic + ".retry").stream()
                    .map(i -> new org.apache.kafka.common.TopicPartition(i.topic(), i.partition())).toList();
            assertThat(c.endOffsets(parts).values().stream().mapToLong(Long::longValue).sum()).isEqualTo(records);
        }
    }

    @Test
    void parkedShowsWhatWaitsForARetryRound() throws Exception {
        h.retryDelays(Duration.ofHours(1));
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/p-later/suppress")).atPriority(1).willReturn(aResponse().withStatus(503)));
        h.send(Messages.request("r-later", "id", "p-later"));
        h.start();
        await().atMost(Duration.ofSeconds(60)).until(() -> h.count("SELECT count(*) FROM audit_event WHERE outcome = 'RETRY_SCHEDULED'") == 1);
        Cli.Run parked = run("parked");
        assertThat(parked.exit()).isZero();
        assertThat(parked.out()).contains("r-later", "http 503", "retry round 1 of 1", "1 parked record(s)");
        // another instance completes the id for another person meanwhile: this record still waits, and
        // will be rejected when due (it was hidden as finished, "0 parked record(s)")
        try (java.sql.Connection c = dev.cioerasure.testing.TestInfra.dataSource(h.ownerDatabase()).getConnection();
             java.sql.Statement st = c.createStatement()) {
            st.execute("INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome, regulation, kafka_topic,"
                    + " kafka_partition, kafka_offset, worker_instance, occurred_at) VALUES ('r-later', '" + "cd".repeat(32) + "', 'id',"
                    + " 'OUTCOME', 'COMPLETED', 'GDPR', '" + h.topic + "', 0, 9999, 'other-instance', now())");
        }
        assertThat(runWithAudit("parked").out()).contains("r-later", "[request id completed for another identifier meanwhile: will be"
                + " rejected REQUEST_ID_REUSED, submit it under an id of its own] ", "1 parked record(s)");

        // A parked record is not in flight: stopping hands it back at once, without waiting out the drain timeout (30 s).
        long t0 = System.nanoTime();
        try (LogCapture logs = LogCapture.capture()) {
            h.stop();
            assertThat(logs.lines()).noneMatch(l -> l.contains("with work in flight") || l.contains("unfinished"));
        }
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(20));
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE outcome = 'RETRY_SCHEDULED'")).isEqualTo(1);
    }

    private Cli.Run runWithAudit(String... args) {
        Map<String, String> env = new java.util.HashMap<>(env());
        env.put("DATABASE_URL", h.settings.database().url());
        env.put("DATABASE_USER", h.settings.database().user());
        env.put("DATABASE_PASSWORD", h.settings.database().password().reveal());
        return Cli.run(env, args);
    }

    /**
     * Two records of one request id for two persons, run at once by two instances: one completed
     * the request, the other failed. The request reads COMPLETED, and the failed record's dead
     * letter read "resolved" and was skipped by dlq replay, though its person was never erased.
     * Now each dead letter is compared with the completion by its own record's person.
     */
    @Test
    void aDeadLetterWhoseRequestIdWasCompletedForAnotherPersonIsNotResolved() throws Exception {
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/p-race-b/suppress")).atPriority(1)
                .willReturn(aResponse().withStatus(404).withBody("{}")));
        h.send(Messages.request("r-race", "id", "p-race-b"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);
        assertThat(h.deadLetters(1, Duration.ofSeconds(30))).hasSize(1);
        // the other instance's record of the same id, for another person, completes meanwhile
        try (java.sql.Connection c = dev.cioerasure.testing.TestInfra.dataSource(h.ownerDatabase()).getConnection();
             java.sql.Statement st = c.createStatement()) {
            st.execute("INSERT INTO audit_event (request_id, subject_hash, identifier_type, step, outcome, regulation, kafka_topic,"
                    + " kafka_partition, kafka_offset, worker_instance, occurred_at) VALUES ('r-race', '" + "ab".repeat(32) + "', 'id',"
                    + " 'OUTCOME', 'COMPLETED', 'GDPR', '" + h.topic + "', 0, 9999, 'other-instance', now())");
        }
        Cli.Run list = runWithAudit("dlq", "list");
        assertThat(list.out()).contains("not erased (id reused)", "1 record(s); 0 resolved since").doesNotContainPattern("r-race +resolved");

        Cli.Run replay = runWithAudit("dlq", "replay", "--request-id", "r-race");
        assertThat(replay.exit()).isEqualTo(1);
        assertThat(replay.err()).contains("skipped 1 record(s) whose request id was completed for another identifier while they were"
                + " processed: not erased; replayed they would be rejected REQUEST_ID_REUSED, so submit each under a request id of its own",
                "nothing left to replay").doesNotContain("already resolved");

        // submitted under an id of its own and erased: its dead letter reads so, and counts as resolved
        track.resetMappings();
        TrackStubs.healthy(track);
        h.send(Messages.request("r-race-own", "id", "p-race-b"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-race-own' AND outcome = 'COMPLETED'") == 1);
        assertThat(runWithAudit("dlq", "list").out()).contains("erased since as r-race-own", "1 record(s); 1 resolved since");
        Cli.Run skipped = runWithAudit("dlq", "replay", "--request-id", "r-race");
        assertThat(skipped.err()).contains("skipped 1 record(s) whose request id was completed for another identifier while they were"
                + " processed, and whose person was erased since under a request id of their own").doesNotContain("not erased");
    }

    @Test
    void deadLettersShowWhetherTheyWereResolvedAndResolvedOnesAreNotReplayedAgain() throws Exception {
        track.stubFor(post(urlPathEqualTo("/api/v1/customers/p-fix-later/suppress")).atPriority(1)
                .willReturn(aResponse().withStatus(404).withBody("{}")));
        h.send(Messages.request("r-fix-later", "id", "p-fix-later"));
        h.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.outcomes() == 1);
        assertThat(h.deadLetters(1, Duration.ofSeconds(30))).hasSize(1);
        assertThat(runWithAudit("dlq", "list").out()).contains("r-fix-later", "open (FAILED)", "0 resolved since");
        assertThat(run("dlq", "list").out()).contains("state unknown");

        track.resetMappings();
        TrackStubs.healthy(track);
        assertThat(runWithAudit("dlq", "replay", "--request-id", "r-fix-later").exit()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-fix-later' AND outcome = 'COMPLETED'") == 1);
        Cli.Run list = runWithAudit("dlq", "list");
        assertThat(list.out()).contains("resolved", "1 resolved since (COMPLETED, or CLOSED without erasure)").doesNotContain("open (FAILED)");

        // the same request id later for another identifier: its dead letter is not "resolved" by the first one's erasure
        h.send(Messages.request("r-fix-later", "id", "p-other"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-fix-later' AND outcome = 'REJECTED'") == 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> runWithAudit("dlq", "list").out().contains("REQUEST_ID_REUSED"));
        assertThat(runWithAudit("dlq", "list").out()).contains("not erased (id reused)", "2 record(s); 1 resolved since");
        // that person submitted again under an id of their own, and erased: their dead letter says so
        // and counts as resolved (it read "not erased (id reused)" for good)
        h.send(Messages.request("r-other-own", "id", "p-other"));
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-other-own' AND outcome = 'COMPLETED'") == 1);
        assertThat(runWithAudit("dlq", "list").out()).contains("erased since as r-other-own", "2 record(s); 2 resolved since")
                .doesNotContain("not erased (id reused)");

        Cli.Run again = runWithAudit("dlq", "replay", "--all");
        assertThat(again.exit()).isEqualTo(1);
        assertThat(again.err()).contains("skipped 1 record(s) whose request is already resolved", "--force", "nothing left to replay",
                "skipped 1 record(s) rejected for their content (REQUEST_ID_REUSED 1)");
        assertThat(runWithAudit("dlq", "replay", "--all", "--force").exit()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> h.count(
                "SELECT count(*) FROM audit_event WHERE request_id = 'r-fix-later' AND outcome = 'DUPLICATE'") == 1);

        // the replays went through the retry topic; finished ones are not shown as waiting
        Cli.Run parked = runWithAudit("parked", "--all");
        assertThat(parked.out()).contains("done (COMPLETED)");
        assertThat(runWithAudit("parked").out()).contains("0 parked record(s)");
    }
}
