package dev.cioerasure.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.TcpProxy;
import dev.cioerasure.testing.TestInfra;
import dev.cioerasure.testing.TrackStubs;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testing.WorkerProcess;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What an operator reads in a worker's log through a database outage, with the production jar's
 * logging: the worker's own lines (why, which SQLState), not the connection pool's stack traces.
 * Before, the pool logged a 25-line stack trace for each connection it found broken and another
 * once it could open none, next to the worker's lines that already said what was wrong.
 */
class OutageLogIT {
    @Test
    void aDatabaseOutageIsLoggedInTheWorkersOwnLinesWithoutStackTraces() throws Exception {
        WireMockServer track = TrackStubs.started();
        Path log = Files.createTempFile("outage-worker", ".log");
        try (WorkerHarness h = WorkerHarness.forStub(URI.create(track.baseUrl()));
             TcpProxy proxy = new TcpProxy(TestInfra.postgres().port())) {
            String url = proxy.route(h.settings.database().url());
            Process worker = WorkerProcess.start(h.settings, track.baseUrl(), 100, Map.of("DATABASE_URL", url), log);
            try {
                h.send(Messages.request("r-before-outage", "id", "person-before-outage"));
                await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 1);

                proxy.cut();
                h.send(Messages.request("r-during-outage", "id", "person-during-outage"));
                await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("cannot renew"));
                Thread.sleep(8_000); // the pool's attempts to open connections meanwhile
                proxy.restore();
                await().atMost(Duration.ofSeconds(60)).until(() -> h.outcomes() == 2);

                worker.destroy();
                assertThat(worker.waitFor(40, TimeUnit.SECONDS)).isTrue();
            } finally {
                worker.destroyForcibly();
                track.stop();
            }
            String said = Files.readString(log);
            Files.deleteIfExists(log);
            assertThat(worker.exitValue()).as(said).isZero();
            assertThat(said).as("the worker's own lines name the cause").contains("(SQLState 08");
            assertThat(said).as(said).doesNotContain("\tat ", "Caused by:", "marked as broken", "Pool is empty");
        }
    }
}
