package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cioerasure.config.Settings;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.LogCapture;
import dev.cioerasure.testing.TestInfra;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.worker.WorkerRuntime;
import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an operator sees when a service cannot be used: one line naming the setting and the
 * cause, the documented exit code (78 a setting, 69 a service that does not answer), no stack
 * trace, no secret.
 */
class ConnectionErrorsIT {
    private static final String WRONG_PASSWORD = "wrong-password-value-42";
    private Settings.Database db;
    private String topic;

    @BeforeEach
    void setUp() throws Exception {
        db = TestInfra.freshDatabase();
        topic = "erasure.requests.conn-" + UUID.randomUUID().toString().substring(0, 8);
        TestInfra.kafka().createTopics(1, topic, topic + ".dlq", topic + ".retry", topic + ".outcomes");
    }

    private Map<String, String> env() {
        Map<String, String> env = new HashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", TestInfra.kafka().bootstrapServers());
        env.put("ERASURE_TOPIC", topic);
        env.put("ERASURE_OUTCOMES_TOPIC", topic + ".outcomes");
        env.put("DATABASE_URL", db.url());
        env.put("DATABASE_USER", db.user());
        env.put("DATABASE_PASSWORD", db.password().reveal());
        env.put("CUSTOMERIO_SITE_ID", "site");
        env.put("CUSTOMERIO_TRACK_API_KEY", "track-key-value");
        env.put("CUSTOMERIO_TRACK_URL", "http://127.0.0.1:1");
        env.put("AUDIT_SUBJECT_KEY", WorkerHarness.AUDIT_KEY);
        env.put("METRICS_PORT", "0");
        return env;
    }

    private static void assertOneCleanLine(Cli.Run r, int exit, String... expected) {
        assertThat(r.exit()).as(r.err()).isEqualTo(exit);
        assertThat(r.err()).contains(expected);
        assertThat(r.err().strip().lines().count()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).doesNotContain("\tat ", "Exception:", WRONG_PASSWORD, "SSL");
    }

    /** README: plain http:// to another machine is warned about at the worker's start (the key would cross the network in clear). */
    @Test
    void aWorkerSaysAtItsStartThatItsTrackKeyWouldCrossTheNetworkInClear() {
        Map<String, String> env = env();
        env.put("CUSTOMERIO_TRACK_URL", "http://track.example.invalid");
        env.put("DATABASE_PASSWORD", WRONG_PASSWORD); // it stops at the database, after the warning
        try (LogCapture logs = LogCapture.capture()) {
            assertThat(Cli.run(env, "worker").exit()).isEqualTo(78);
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("WorkerCommand CUSTOMERIO_TRACK_URL is plain http:// to"
                    + " track.example.invalid: the Track API key crosses the network unencrypted"));
        }
    }

    @Test
    void aWrongDatabasePasswordIsAConfigurationErrorForEveryCommand() {
        Map<String, String> env = env();
        env.put("DATABASE_PASSWORD", WRONG_PASSWORD);
        for (List<String> command : List.of(List.of("migrate"), List.of("audit", "verify"), List.of("audit", "status", "r-1"),
                List.of("worker"))) {
            Cli.Run r = Cli.run(env, command.toArray(String[]::new));
            assertOneCleanLine(r, 78, "DATABASE_PASSWORD: PostgreSQL refused the password for user '" + db.user() + "'", "28P01");
        }
    }

    @Test
    void anUnknownHostOrDatabaseIsAConfigurationErrorAndARefusedConnectionIsUnavailability() throws Exception {
        Map<String, String> env = env();
        env.put("DATABASE_URL", "jdbc:postgresql://no-such-host.invalid:5432/erasure");
        assertOneCleanLine(Cli.run(env, "migrate"), 78, "DATABASE_URL: unknown host in no-such-host.invalid:5432");
        env.put("DATABASE_URL", db.url().replaceAll("/[^/]+$", "/no_such_db"));
        assertOneCleanLine(Cli.run(env, "audit", "verify"), 78, "DATABASE_URL: database 'no_such_db' does not exist");
        int port = TestInfra.freePort();
        env.put("DATABASE_URL", "jdbc:postgresql://127.0.0.1:" + port + "/erasure");
        assertOneCleanLine(Cli.run(env, "migrate"), 69, "DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:" + port,
                "connection refused");
        assertOneCleanLine(Cli.run(env, "audit", "verify"), 69, "connection refused");
    }

    /**
     * A port where something takes the connection and the driver's first message but never
     * answers (Kafka's, for one, did so when checked by hand): it said "timed out", which reads as
     * a network problem; it names the port now. Still 69: a PostgreSQL too busy to answer looks the same.
     */
    @Test
    void aPortThatAcceptsButNeverAnswersAsPostgresIsNamedAsSuch() throws Exception {
        List<java.net.Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread accepting = new Thread(() -> {
                while (!silent.isClosed()) {
                    try {
                        held.add(silent.accept());
                    } catch (java.io.IOException closed) {
                        return;
                    }
                }
            }, "silent-port");
            accepting.setDaemon(true);
            accepting.start();
            Map<String, String> env = env();
            String where = "127.0.0.1:" + silent.getLocalPort();
            env.put("DATABASE_URL", "jdbc:postgresql://" + where + "/erasure");
            Cli.Run r = Cli.run(env, "audit", "verify");
            assertOneCleanLine(r, 69, "DATABASE_URL: " + where + " accepts connections, but nothing answered there as PostgreSQL in"
                    + " time: a service that is not PostgreSQL (is the port right?), or a server too busy to answer");
            assertThat(held).as("the driver did reach the port").isNotEmpty();
        } finally {
            for (java.net.Socket s : held) {
                s.close();
            }
        }
    }

    /**
     * PostgreSQL refusing a connection for want of one (a role's CONNECTION LIMIT, max_connections)
     * or while it starts up said "cannot use PostgreSQL … (SQLState 53300)": the operator had to
     * look the code up. It names the limit now; still 69, since connections close again.
     */
    @Test
    void aServerWithoutAConnectionLeftOrStartingUpSaysWhich() throws Exception {
        String role = "limited_" + UUID.randomUUID().toString().substring(0, 8);
        try (var c = TestInfra.dataSource(db).getConnection(); var st = c.createStatement()) {
            st.execute("CREATE ROLE " + role + " LOGIN PASSWORD 'l' CONNECTION LIMIT 0 IN ROLE cio_erasure_auditor");
        }
        Map<String, String> env = env();
        env.put("DATABASE_USER", role);
        env.put("DATABASE_PASSWORD", "l");
        assertOneCleanLine(Cli.run(env, "audit", "verify"), 69, "DATABASE_URL: PostgreSQL at ", " has no connection left for user '"
                + role + "' (SQLState 53300 too_many_connections: the CONNECTION LIMIT of role '" + role + "' is reached");

        env = env();
        for (String[] refusal : new String[][] {{"53300", "sorry, too many clients already"}, {"57P03", "the database system is starting up"}}) {
            try (ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
                Thread answering = new Thread(() -> refuseLogIns(server, refusal[0], refusal[1]), "refusing-postgres");
                answering.setDaemon(true);
                answering.start();
                String where = "127.0.0.1:" + server.getLocalPort();
                env.put("DATABASE_URL", "jdbc:postgresql://" + where + "/erasure");
                Cli.Run r = Cli.run(env, "audit", "verify");
                if (refusal[0].equals("53300")) {
                    assertOneCleanLine(r, 69, "DATABASE_URL: PostgreSQL at " + where + " has no connection left for user '" + db.user()
                            + "' (SQLState 53300 too_many_connections: the server's max_connections (less the slots it reserves for"
                            + " administrators) is reached; each worker holds up to DATABASE_POOL_SIZE connections)");
                } else {
                    assertOneCleanLine(r, 69, "DATABASE_URL: PostgreSQL at " + where + " takes no connections now (SQLState 57P03"
                            + " cannot_connect_now: it is starting up, shutting down or recovering");
                }
            }
        }
    }

    /**
     * A server that speaks PostgreSQL's protocol only to refuse each log-in, as PostgreSQL does:
     * "no" to a TLS or GSS request, then an ErrorResponse with this SQLState and message.
     */
    private static void refuseLogIns(ServerSocket server, String sqlState, String message) {
        while (!server.isClosed()) {
            try (java.net.Socket s = server.accept()) {
                var in = new java.io.DataInputStream(s.getInputStream());
                var out = s.getOutputStream();
                while (true) {
                    int length = in.readInt();
                    int code = in.readInt();
                    in.skipNBytes(length - 8);
                    if (code == 80877103 || code == 80877104) { // SSLRequest, GSSENCRequest
                        out.write('N');
                        out.flush();
                        continue;
                    }
                    var fields = new java.io.ByteArrayOutputStream();
                    for (String f : new String[] {"SFATAL", "VFATAL", "C" + sqlState, "M" + message}) {
                        fields.write(f.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                        fields.write(0);
                    }
                    fields.write(0);
                    var error = new java.io.DataOutputStream(out);
                    error.writeByte('E');
                    error.writeInt(4 + fields.size());
                    fields.writeTo(error);
                    error.flush();
                    break;
                }
            } catch (java.io.IOException closedOrGone) {
                // the next connection, or the end once the server socket closes
            }
        }
    }

    /**
     * A parameter of DATABASE_URL that the driver or PostgreSQL refuses is a wrong setting (78),
     * not an outage (69) for a supervisor to retry, nor a database for the worker to wait for.
     */
    @Test
    void aDatabaseUrlParameterTheDriverOrTheServerRefusesIsAConfigurationError() {
        Map<String, String> env = env();
        String url = db.url() + (db.url().contains("?") ? "&" : "?");
        Map<String, String> cases = Map.of(
                "socketTimeout=abc", "socketTimeout parameter value must be an integer but was: abc",
                "sslmode=bogus", "Invalid sslmode value: bogus",
                "options=-c%20statement_timeout=abc", "invalid value for parameter \"statement_timeout\"",
                "options=-c%20no_such_setting=1", "unrecognized configuration parameter \"no_such_setting\"");
        cases.forEach((parameter, said) -> {
            env.put("DATABASE_URL", url + parameter);
            assertOneCleanLine(Cli.run(env, "audit", "verify"), 78, "DATABASE_URL: a connection parameter is not valid at ", said);
        });
        env.put("DATABASE_URL", url + "socketTimeout=abc");
        assertOneCleanLine(Cli.run(env, "migrate"), 78, "socketTimeout parameter value must be an integer");
        assertOneCleanLine(Cli.run(env, "worker"), 78, "socketTimeout parameter value must be an integer");
    }

    @Test
    void kafkaProblemsStopTheCommandsQuicklyWithOneLine() throws Exception {
        Map<String, String> env = env();
        java.nio.file.Path file = java.nio.file.Files.createTempFile("requests", ".csv");
        java.nio.file.Files.writeString(file, "identifier_type,identifier,regulation,requested_by\nid,conn-1,GDPR,desk\n");
        int port = TestInfra.freePort();
        env.put("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:" + port);
        long t0 = System.nanoTime();
        assertOneCleanLine(Cli.run(env, "submit", "--file", file.toString()), 69,
                "KAFKA_BOOTSTRAP_SERVERS: no Kafka broker at 127.0.0.1:" + port + " answered within 15 s");
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(40));
        Cli.Run list = Cli.run(env, "dlq", "list");
        assertOneCleanLine(list, 69, "no Kafka broker");
        assertThat(list.out()).as("no listing's header above a Kafka that did not answer").isEmpty();
        // a port that answers, but not as Kafka (here PostgreSQL's; in practice, mostly a TLS listener's)
        String notKafka = "127.0.0.1:" + TestInfra.postgres().port();
        env.put("KAFKA_BOOTSTRAP_SERVERS", notKafka);
        assertOneCleanLine(Cli.run(env, "dlq", "list"), 69, "KAFKA_BOOTSTRAP_SERVERS: " + notKafka + " accepts connections, but no"
                + " Kafka broker answered there within ", "a listener for another security protocol than PLAINTEXT");
        env.put("KAFKA_BOOTSTRAP_SERVERS", "no-such-host.invalid:9092");
        assertOneCleanLine(Cli.run(env, "submit", "--file", file.toString()), 78, "KAFKA_BOOTSTRAP_SERVERS: no resolvable broker address");
        env.put("KAFKA_BOOTSTRAP_SERVERS", TestInfra.kafka().bootstrapServers());
        env.put("ERASURE_TOPIC", "no.such.topic");
        assertOneCleanLine(Cli.run(env, "submit", "--file", file.toString()), 78, "ERASURE_TOPIC: topic [no.such.topic] does not exist");
    }

    @Test
    void aBusyMetricsPortAndABogusLogLevelAreConfigurationErrors() throws Exception {
        Cli.Run ok = Cli.run(env(), "migrate");
        assertThat(ok.exit()).as(ok.err()).isZero();
        try (ServerSocket busy = new ServerSocket(0)) {
            Map<String, String> env = env();
            env.put("METRICS_PORT", Integer.toString(busy.getLocalPort()));
            assertOneCleanLine(Cli.run(env, "worker"), 78, "METRICS_PORT: port " + busy.getLocalPort() + " is already in use");
        }
        Map<String, String> noOutcomesTopic = env();
        noOutcomesTopic.put("ERASURE_OUTCOMES_TOPIC", "no.such.outcomes");
        assertOneCleanLine(Cli.run(noOutcomesTopic, "worker"), 78, "ERASURE_OUTCOMES_TOPIC", "topic [no.such.outcomes] does not exist");
        Map<String, String> env = env();
        env.put("LOG_LEVEL", "bogus");
        assertOneCleanLine(Cli.run(env, "audit", "verify"), 78, "LOG_LEVEL: must be one of TRACE, DEBUG, INFO, WARN, ERROR, OFF");
        env.put("LOG_LEVEL", "info"); // any case (README)
        Cli.Run lower = Cli.run(env, "audit", "verify");
        assertThat(lower.exit()).as(lower.err()).isZero();
    }

    /**
     * A statement_timeout a DBA set for the database or the login cancels a long statement (here
     * one that waits for a lock): that was exit 69, "cannot use PostgreSQL (SQLState 57014)",
     * which reads as an outage to retry; it is the database's setting for this login.
     */
    @Test
    void aStatementCancelledByTheDatabasesStatementTimeoutSaysSoAndIsAConfigurationError() throws Exception {
        assertThat(Cli.run(env(), "migrate").exit()).isZero();
        String name = db.url().substring(db.url().lastIndexOf('/') + 1);
        try (java.sql.Connection c = TestInfra.dataSource(db).getConnection(); java.sql.Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE " + name + " SET statement_timeout = '300ms'");
            c.setAutoCommit(false);
            st.execute("SET LOCAL statement_timeout = 0");
            st.execute("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE"); // audit verify waits for it past its timeout
            assertOneCleanLine(Cli.run(env(), "audit", "verify"), 78, "DATABASE_URL: PostgreSQL at localhost:",
                    "cancelled a statement (SQLState 57014 query_canceled): the statement_timeout of user '" + db.user()
                            + "' or of database '" + name + "'", "ALTER ROLE");
            c.rollback();
        }
    }

    /**
     * A database encoded LATIN1 (an old cluster's default): migrate failed with "run migrate as
     * the database owner" (a migration's em dash has no LATIN1 form), and the worker would fail
     * every batch holding a requested_by such as "チケット-12" for good.
     */
    @Test
    void aDatabaseNotEncodedInUtf8StopsMigrateAndTheWorker() throws Exception {
        String name = "latin1_" + UUID.randomUUID().toString().substring(0, 8).replace('-', '_');
        try (java.sql.Connection c = TestInfra.dataSource(db).getConnection(); java.sql.Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name + " ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
        }
        Map<String, String> env = env();
        env.put("DATABASE_URL", db.url().substring(0, db.url().lastIndexOf('/') + 1) + name);
        for (String command : List.of("migrate", "worker")) {
            assertOneCleanLine(Cli.run(env, command), 78, "DATABASE_URL: database '" + name + "' at localhost:",
                    "is encoded LATIN1, not UTF8", "create the database with ENCODING 'UTF8'");
        }
    }

    /**
     * A read replica (a cloud database's reader endpoint) or a database that takes no writes: the
     * worker started, and every audit write failed with SQLState 25006 while it held its partitions.
     */
    @Test
    void aDatabaseThatTakesNoWritesStopsTheWorkerAndMigrateButNotTheAuditors() throws Exception {
        String name = db.url().substring(db.url().lastIndexOf('/') + 1);
        try (java.sql.Connection c = TestInfra.dataSource(db).getConnection(); java.sql.Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE " + name + " SET default_transaction_read_only = on");
        }
        String expected = "DATABASE_URL: database '" + name + "' at localhost:";
        for (String[] command : new String[][] {{"worker"}, {"migrate"}}) {
            Cli.Run r = Cli.run(env(), command);
            assertOneCleanLine(r, 78, expected, "takes no writes from this login (default_transaction_read_only is on)",
                    "name the primary");
        }
        Cli.Run audit = Cli.run(env(), "audit", "verify");
        assertThat(audit.exit()).as(audit.err()).isZero();
    }

    /**
     * A compacted request topic keeps only the latest record of each key, and requests are keyed
     * by person: an earlier request of the same person could vanish unprocessed. It was taken.
     */
    @Test
    void aWorkerRefusesACompactedRequestOrRetryTopic() throws Exception {
        String compacted = "erasure.requests.compacted-" + UUID.randomUUID().toString().substring(0, 8);
        TestInfra.kafka().createTopic(compacted, 1, Map.of("cleanup.policy", "compact"));
        TestInfra.kafka().createTopics(1, compacted + ".dlq", compacted + ".retry");
        Map<String, String> env = env();
        env.put("ERASURE_TOPIC", compacted);
        assertOneCleanLine(Cli.run(env, "worker"), 78, "ERASURE_TOPIC: topic " + compacted + " is compacted (cleanup.policy=compact):"
                + " compaction keeps only the latest record of each key, and requests are keyed by person");
        String retryCompacted = "erasure.requests.retry-compacted-" + UUID.randomUUID().toString().substring(0, 8);
        TestInfra.kafka().createTopics(1, retryCompacted, retryCompacted + ".dlq");
        TestInfra.kafka().createTopic(retryCompacted + ".retry", 1, Map.of("cleanup.policy", "compact,delete"));
        env.put("ERASURE_TOPIC", retryCompacted);
        assertOneCleanLine(Cli.run(env, "worker"), 78, "topic " + retryCompacted + ".retry is compacted (cleanup.policy=compact,delete)");
    }

    /**
     * A CUSTOMERIO_TRACK_URL where something answers 200 whatever the credentials (a catch-all
     * mock, a sandbox left in the settings): every suppress and destroy was recorded SUCCEEDED,
     * with nobody erased. Customer.io refuses a made-up key (the sandbox too, as the demo shows).
     */
    @Test
    void aWorkerRefusesATrackUrlThatAcceptsAMadeUpKey() throws Exception {
        com.github.tomakehurst.wiremock.WireMockServer catchAll = new com.github.tomakehurst.wiremock.WireMockServer(
                com.github.tomakehurst.wiremock.core.WireMockConfiguration.options().dynamicPort());
        catchAll.start();
        try {
            catchAll.stubFor(com.github.tomakehurst.wiremock.client.WireMock.any(com.github.tomakehurst.wiremock.client.WireMock.anyUrl())
                    .willReturn(com.github.tomakehurst.wiremock.client.WireMock.okJson("{}")));
            Map<String, String> env = env();
            env.put("CUSTOMERIO_TRACK_URL", catchAll.baseUrl());
            // bounded: a worker that starts (as it did) would run on
            Cli.Run r = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(90), () -> Cli.run(env, "worker"));
            assertOneCleanLine(r, 78, "CUSTOMERIO_TRACK_URL: " + catchAll.baseUrl() + " answered HTTP 200 to a"
                    + " credential check with a made-up key: it does not check Track credentials, so it is not Customer.io's Track API,"
                    + " and every suppress and destroy sent there would be recorded SUCCEEDED with nobody erased");
            assertThat(catchAll.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
                    com.github.tomakehurst.wiremock.client.WireMock.anyUrl()))).as("nothing sent to be erased").isEmpty();
        } finally {
            catchAll.stop();
        }
    }

    /**
     * The start asks each distinct Track URL with a made-up key, and did so one after another: a
     * URL that takes connections and never answers held the start for its 5 s before the next was
     * asked. They are asked at once now: two such servers are each asked within a second of the
     * other, and the catch-all behind them still stops the worker.
     */
    @Test
    void aWorkerAsksItsTrackUrlsAtOnce() throws Exception {
        java.util.List<Long> acceptedAt = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        java.util.List<java.net.ServerSocket> silent = new java.util.ArrayList<>();
        java.util.List<java.net.Socket> held = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        com.github.tomakehurst.wiremock.WireMockServer catchAll = new com.github.tomakehurst.wiremock.WireMockServer(
                com.github.tomakehurst.wiremock.core.WireMockConfiguration.options().dynamicPort());
        catchAll.start();
        try {
            for (int i = 0; i < 2; i++) {
                java.net.ServerSocket server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
                silent.add(server);
                Thread t = new Thread(() -> {
                    try {
                        while (true) {
                            java.net.Socket c = server.accept(); // taken, never answered
                            acceptedAt.add(System.nanoTime());
                            held.add(c);
                        }
                    } catch (java.io.IOException closed) {
                        // the test is over
                    }
                });
                t.setDaemon(true);
                t.start();
            }
            catchAll.stubFor(com.github.tomakehurst.wiremock.client.WireMock.any(com.github.tomakehurst.wiremock.client.WireMock.anyUrl())
                    .willReturn(com.github.tomakehurst.wiremock.client.WireMock.okJson("{}")));
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("urls");
            java.nio.file.Path key = java.nio.file.Files.writeString(dir.resolve("k"), "track-key-value");
            java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("workspaces.yaml"), "workspaces:\n"
                    + "  - {name: one, site_id: s1, track_api_key_file: " + key + ", track_url: \"http://127.0.0.1:" + silent.get(0).getLocalPort() + "\"}\n"
                    + "  - {name: two, site_id: s2, track_api_key_file: " + key + ", track_url: \"http://127.0.0.1:" + silent.get(1).getLocalPort() + "\"}\n"
                    + "  - {name: three, site_id: s3, track_api_key_file: " + key + ", track_url: \"" + catchAll.baseUrl() + "\"}\n");
            Map<String, String> env = env();
            for (String k : java.util.List.of("CUSTOMERIO_SITE_ID", "CUSTOMERIO_TRACK_API_KEY", "CUSTOMERIO_TRACK_URL")) {
                env.remove(k);
            }
            env.put("CUSTOMERIO_WORKSPACES_FILE", file.toString());
            Cli.Run r = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(90), () -> Cli.run(env, "worker"));
            assertOneCleanLine(r, 78, "CUSTOMERIO_TRACK_URL of workspace three: " + catchAll.baseUrl() + " answered HTTP 200 to a"
                    + " credential check with a made-up key");
            assertThat(acceptedAt).as("each silent URL asked once").hasSize(2);
            assertThat(Math.abs(acceptedAt.get(1) - acceptedAt.get(0))).as("asked together, not 5 s apart")
                    .isLessThan(Duration.ofSeconds(2).toNanos());
        } finally {
            catchAll.stop();
            for (java.net.ServerSocket server : silent) {
                server.close();
            }
            for (java.net.Socket c : held) {
                c.close();
            }
        }
    }

    /**
     * A retry record waits on its topic until its round (8 h for the last by default): a retention
     * shorter than that deleted it unprocessed at the next restart of the worker holding it.
     */
    @Test
    void aWorkerRefusesARetryTopicThatKeepsRecordsShorterThanTheLongestRetryDelay() throws Exception {
        String t = "erasure.requests.short-" + UUID.randomUUID().toString().substring(0, 8);
        TestInfra.kafka().createTopics(1, t, t + ".dlq");
        TestInfra.kafka().createTopic(t + ".retry", 1, Map.of("retention.ms", Long.toString(java.time.Duration.ofHours(1).toMillis())));
        Map<String, String> env = env();
        env.put("ERASURE_TOPIC", t);
        env.put("ERASURE_OUTCOMES_TOPIC", "none");
        assertOneCleanLine(Cli.run(env, "worker"), 78, "ERASURE_TOPIC: topic " + t + ".retry keeps records for 1h (retention.ms), less"
                + " than the 8h a record may wait there");
        // every round within the hour: the Kafka checks pass, and the database's (after them) stops it here
        env.put("ERASURE_RETRY_DELAYS", "1m,5m,30m");
        env.put("DATABASE_PASSWORD", WRONG_PASSWORD);
        assertOneCleanLine(Cli.run(env, "worker"), 78, "DATABASE_PASSWORD: PostgreSQL refused the password");
    }

    @Test
    void aWorkerThatCannotReachKafkaSaysSoInOneLineAndIsNotReady() throws Exception {
        int port = TestInfra.freePort();
        try (WorkerHarness h = WorkerHarness.forStub(java.net.URI.create("http://127.0.0.1:1"))) {
            Settings s = new Settings(new Settings.Kafka("127.0.0.1:" + port, h.topic, "g-" + h.topic), h.settings.database(),
                    h.settings.customerIo(), h.settings.audit(), h.settings.worker(), List.of());
            try (LogCapture logs = LogCapture.capture()) {
                WorkerRuntime r = WorkerRuntime.start(s, Clock.systemUTC());
                try {
                    await().atMost(Duration.ofSeconds(45)).until(() -> r.worker().notReadyReason()
                            .filter(why -> why.contains("Kafka unreachable")).isPresent());
                    assertThat(r.worker().notReadyReason()).hasValueSatisfying(why ->
                            assertThat(why).contains("KAFKA_BOOTSTRAP_SERVERS: no Kafka broker at 127.0.0.1:" + port));
                    List<String> lines = logs.lines();
                    assertThat(lines).anySatisfy(l -> assertThat(l).contains("no Kafka broker at 127.0.0.1:" + port));
                    // (the log is shared with the test classes running alongside: only this broker address counts)
                    assertThat(lines.stream().filter(l -> l.startsWith("org.apache.kafka.clients.NetworkClient")
                            && l.contains(":" + port)).count())
                            .as("the Kafka client's own connection warnings are not repeated in the log").isZero();
                } finally {
                    r.close();
                }
            }
        }
    }

    /**
     * A worker whose start-up waits on the database (here a lock someone holds on a table it
     * reads) is up, reads {@code erasure_ready 0} (the series was absent until start-up ended, so
     * ErasureWorkerNotReady could not fire) and says where it waits; it starts once the lock goes.
     */
    @Test
    void aWorkerWhoseStartUpWaitsOnTheDatabaseReadsNotReadyAndSaysWhere() throws Exception {
        try (WorkerHarness h = WorkerHarness.forStub(java.net.URI.create("http://127.0.0.1:1"));
             LogCapture logs = LogCapture.capture();
             java.sql.Connection owner = TestInfra.dataSource(h.ownerDatabase()).getConnection()) {
            owner.setAutoCommit(false);
            owner.createStatement().execute("LOCK TABLE audit_subject_key IN ACCESS EXCLUSIVE MODE");
            java.util.concurrent.CompletableFuture<WorkerRuntime> starting = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return h.start();
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            try {
                java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
                // (the log is shared with the test classes running alongside: this worker is the one starting)
                int port = await().atMost(Duration.ofSeconds(30)).until(() -> logs.lines().stream().map(SlowClientsIT.WORKER_PORT::matcher)
                        .filter(java.util.regex.Matcher::find).map(m -> Integer.parseInt(m.group(1)))
                        .filter(p -> get(http, p, "/health/ready").contains("starting: checking the audit database")).findFirst(),
                        java.util.Optional::isPresent).orElseThrow();
                Thread.sleep(1_000);
                assertThat(starting).as("still waiting on the lock").isNotDone();
                assertThat(get(http, port, "/metrics")).containsPattern("(?m)^erasure_ready\\{[^}]*\\} 0\\.0$");
                owner.rollback();
                WorkerRuntime r = starting.get(60, java.util.concurrent.TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(60)).until(() -> r.worker().isReady());
                assertThat(get(http, port, "/metrics")).containsPattern("(?m)^erasure_ready\\{[^}]*\\} 1\\.0$");
            } finally {
                owner.rollback();
                starting.get(60, java.util.concurrent.TimeUnit.SECONDS); // the harness closes it
            }
        }
    }

    private static String get(java.net.http.HttpClient http, int port, String path) {
        try {
            return http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://localhost:" + port + path)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        } catch (java.io.IOException e) {
            return ""; // a worker that has stopped since
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    /**
     * A login without its group role, or a database without this release's tables, is a setting
     * that waiting does not mend: every command stops with one line before it prints or takes
     * anything (they gave exit 70 and pgjdbc's exception; the worker started, joined its group and
     * held its partitions).
     */
    @Test
    void aLoginWithoutItsRoleOrADatabaseWithoutTheTablesIsAWrongSettingForEveryCommand() throws Exception {
        String suffix = UUID.randomUUID().toString().substring(0, 8);
        String nobody = "nobody_" + suffix;
        String auditor = "dpo_" + suffix;
        String writer = "writer_" + suffix;
        String empty = "empty_" + suffix;
        try (var c = TestInfra.dataSource(db).getConnection(); var st = c.createStatement()) {
            st.execute("CREATE ROLE " + nobody + " LOGIN PASSWORD 'n'");
            st.execute("CREATE ROLE " + auditor + " LOGIN PASSWORD 'a' IN ROLE cio_erasure_auditor");
            st.execute("CREATE ROLE " + writer + " LOGIN PASSWORD 'w' IN ROLE cio_erasure_writer");
            st.execute("CREATE DATABASE " + empty);
        }
        Map<String, String> env = env();
        env.put("DATABASE_USER", nobody);
        env.put("DATABASE_PASSWORD", "n");
        for (List<String> command : List.of(List.of("audit", "verify"), List.of("audit", "status", "r-1"),
                List.of("audit", "report", "--from", "2026-11-01", "--to", "2026-11-30"), List.of("dlq", "list"), List.of("parked"))) {
            assertOneCleanLine(Cli.run(env, command.toArray(String[]::new)), 78, "DATABASE_USER: PostgreSQL does not let user '" + nobody
                    + "' use the audit tables (SQLState 42501: permission denied for ", "need a login in cio_erasure_auditor");
        }
        assertOneCleanLine(Cli.run(env, "worker"), 78, "DATABASE_USER: PostgreSQL does not let user '" + nobody + "' use the audit tables",
                "the worker needs a login in cio_erasure_writer");
        assertOneCleanLine(Cli.run(env, "migrate"), 78, "DATABASE_USER: PostgreSQL does not let user '" + nobody + "' use the audit tables"
                + " (SQLState 42501: permission denied for ", "migrate needs the database's owner");

        env.put("DATABASE_USER", auditor);
        env.put("DATABASE_PASSWORD", "a");
        assertThat(Cli.run(env, "audit", "verify").exit()).isZero();
        assertOneCleanLine(Cli.run(env, "worker"), 78, "DATABASE_USER: user '" + auditor + "' may read the audit table but not append to it",
                "the worker needs a login in cio_erasure_writer");

        env.put("DATABASE_USER", writer);
        env.put("DATABASE_PASSWORD", "w");
        assertOneCleanLine(Cli.run(env, "audit", "verify"), 78, "SQLState 42501: permission denied for table audit_chain_head");

        env.put("DATABASE_URL", db.url().replaceFirst("/[^/]*$", "/" + empty));
        env.put("DATABASE_USER", db.user());
        env.put("DATABASE_PASSWORD", db.password().reveal());
        for (List<String> command : List.of(List.of("audit", "verify"), List.of("audit", "status", "r-1"), List.of("worker"))) {
            assertOneCleanLine(Cli.run(env, command.toArray(String[]::new)), 78, "DATABASE_URL: database '" + empty + "' at ",
                    "does not hold the audit tables of this release (SQLState 42P01: relation \"audit_event\" does not exist):"
                            + " is it the right database? If so, run 'migrate' as its owner first");
        }
    }

    @Test
    void aWorkerWithAnotherSubjectKeyThanTheTablesRefusesToStart() throws Exception {
        assertThat(Cli.run(env(), "migrate").exit()).isZero();
        new dev.cioerasure.audit.SubjectKeyFingerprint(TestInfra.dataSource(db),
                new dev.cioerasure.audit.SubjectHasher(dev.cioerasure.config.Secret.of("K", "the-original-audit-key-0123456789"))).recordIfNone();
        assertOneCleanLine(Cli.run(env(), "worker"), 78, "AUDIT_SUBJECT_KEY: not the key this audit table was written with");
    }
}
