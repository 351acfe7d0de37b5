package dev.cioerasure.worker;

import static com.github.tomakehurst.wiremock.client.WireMock.delete;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.ServeEvent;
import dev.cioerasure.audit.ChainVerifier;
import dev.cioerasure.testing.Cli;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import java.io.File;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * kill -9 of a real worker process at random points of a few-thousand-request run, several
 * times, then a final clean run: every request ends with exactly one COMPLETED outcome and the
 * audit chain is intact.
 */
class CrashIT {
    private WireMockServer track;
    private WorkerHarness h;
    private final List<Process> processes = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        track = new WireMockServer(options().dynamicPort().containerThreads(80));
        track.start();
        track.stubFor(post(urlPathMatching("/api/v1/customers/[^/]+/suppress")).willReturn(okJson("{}").withFixedDelay(15)));
        track.stubFor(delete(urlPathMatching("/api/v1/customers/[^/]+")).willReturn(okJson("{}").withFixedDelay(15)));
        h = new WorkerHarness(URI.create(track.baseUrl()), 600, 5, Duration.ofSeconds(5), 4).outcomeEvents();
    }

    @AfterEach
    void tearDown() {
        processes.forEach(Process::destroyForcibly);
        h.close();
        track.stop();
    }

    /** The worker as a separate JVM, from the packaged jar when there is one. */
    private Process startWorkerProcess(int run, Path log, String groupProtocol) throws Exception {
        // the same explicit id each time, as a restarted pod would have: under the classic protocol it
        // reclaims its partitions at once; under the consumer protocol it waits for the killed member's
        // session to end (10 s on the test broker) and says so
        Process p = dev.cioerasure.testing.WorkerProcess.start(h.settings, track.baseUrl(), 600,
                Map.of("WORKER_INSTANCE_ID", "crash-worker", "ERASURE_MAX_IN_FLIGHT", "64", "KAFKA_CLIENT_GROUP_PROTOCOL", groupProtocol), log);
        processes.add(p);
        return p;
    }

    /** Under Kafka's classic group protocol, and under the consumer protocol (KIP-848), fewer kills: each restart waits for the id. */
    @ParameterizedTest
    @CsvSource({"classic, 4", "consumer, 2"})
    void killingTheWorkerRepeatedlyLosesNothingAndNeverCompletesARequestTwice(String groupProtocol, int kills) throws Exception {
        int n = 3000;
        for (int i = 0; i < n; i++) {
            h.send(("key-" + i).getBytes(), Messages.request("r-crash-" + i, "id", "p-crash-" + i));
        }
        Random random = new Random(42);
        Path logDir = Files.createDirectories(Path.of("app", "target", "crash-it", groupProtocol));
        List<Integer> progress = new ArrayList<>();
        for (int run = 0; run < kills; run++) {
            int before = h.outcomes();
            Process p = startWorkerProcess(run, logDir.resolve("worker-" + run + ".log"), groupProtocol);
            // let it get going, then kill it at a random moment
            await().atMost(Duration.ofSeconds(90)).until(() -> h.outcomes() > before);
            Thread.sleep(200 + random.nextInt(1500));
            p.destroyForcibly(); // SIGKILL: no shutdown hook, no commit, no flush
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
            progress.add(h.outcomes());
        }
        assertThat(progress.get(kills - 1)).as("the kills happened mid-run").isLessThan(n);

        Process last = startWorkerProcess(kills, logDir.resolve("worker-final.log"), groupProtocol);
        await().atMost(Duration.ofSeconds(120)).until(() -> h.count(
                "SELECT count(DISTINCT request_id) FROM audit_event WHERE outcome = 'COMPLETED'") == n);
        last.destroy(); // SIGTERM: graceful stop, exit 0
        assertThat(last.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(last.exitValue()).isZero();

        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).isEqualTo(n);
        assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'FAILED'")).isZero();
        assertThat(h.count("SELECT count(*) FROM (SELECT kafka_topic, kafka_partition, kafka_offset FROM audit_event"
                + " WHERE step = 'OUTCOME' GROUP BY 1, 2, 3 HAVING count(*) > 1) d")).isZero();
        int duplicates = h.count("SELECT count(*) FROM audit_event WHERE outcome = 'DUPLICATE'");

        List<ServeEvent> events = new ArrayList<>(track.getAllServeEvents());
        Collections.reverse(events);
        // each start's check of the URL with a made-up key (ConnectionErrorsIT) is no erasure call
        events.removeIf(e -> e.getRequest().getUrl().equals("/api/v1/accounts/region"));
        Map<String, Integer> firstSuppress = new HashMap<>();
        int suppressCalls = 0;
        for (int i = 0; i < events.size(); i++) {
            String url = events.get(i).getRequest().getUrl();
            if (url.endsWith("/suppress")) {
                suppressCalls++;
                firstSuppress.putIfAbsent(url.substring(0, url.length() - "/suppress".length()), i);
            } else {
                Integer s = firstSuppress.get(url);
                assertThat(s).as("suppress before destroy for %s", url).isNotNull().isLessThan(i);
            }
        }
        assertThat(firstSuppress).hasSize(n);
        // every completion announced at least once, through the kills
        java.util.function.Function<List<org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]>>, java.util.Set<String>> completed =
                records -> records.stream()
                        .filter(e -> new String(e.value(), java.nio.charset.StandardCharsets.UTF_8)
                                .contains("\"event\":\"outcome\",\"outcome\":\"COMPLETED\""))
                        .map(e -> new String(e.key(), java.nio.charset.StandardCharsets.UTF_8))
                        .collect(java.util.stream.Collectors.toSet());
        java.util.Set<String> announced = completed.apply(h.readUntil(h.settings.kafka().outcomesTopic(),
                records -> completed.apply(records).size() >= n, Duration.ofSeconds(60)));
        assertThat(announced).as("requests whose COMPLETED event reached erasure.outcomes").hasSize(n);
        ChainVerifier.Result chain = new ChainVerifier(h.db).verify();
        assertThat(chain.firstBreak()).isEmpty();
        if (groupProtocol.equals("consumer")) {
            // each restart after a kill found the id held for the killed member, waited, and joined
            assertThat(Files.readString(logDir.resolve("worker-1.log"))).contains("holds WORKER_INSTANCE_ID 'crash-worker' for another"
                    + " member (group.protocol=consumer)").contains("released WORKER_INSTANCE_ID 'crash-worker' after");
        }
        Cli.report("[crash] %s protocol: %d requests, %d kill -9 (outcomes after each: %s), %d COMPLETED, %d DUPLICATE rows,"
                + " %d suppress calls (%d repeated after a crash), chain of %d rows intact%n",
                groupProtocol, n, kills, progress, n, duplicates, suppressCalls, suppressCalls - n, chain.rowsChecked());
        assertThat(new File("app/target/crash-it").exists()).isTrue();
    }
}
