package dev.cioerasure.worker;

import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.cioerasure.testing.Messages;
import dev.cioerasure.testing.WorkerHarness;
import dev.cioerasure.testing.WorkerProcess;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Customer.io is reached over TLS, where the JDK's HTTP client negotiates HTTP/2 unless told
 * otherwise: one connection, and every call a stream on it. A server caps the streams open at
 * once (SETTINGS_MAX_CONCURRENT_STREAMS: 128 in Jetty, 100 or 128 behind many load balancers), and
 * the JDK's client (JDK-8225647, open) fails each call past the cap at once with "too many
 * concurrent streams" instead of waiting: a worker with more erasures in flight than that saw
 * them fail as I/O errors, retried and counted against the breaker, though Customer.io was
 * never asked. The plain-http sandbox never showed it: over http the client spoke HTTP/1.1,
 * which is what the benchmarks measured. The Track and App API clients speak HTTP/1.1 over TLS
 * too now (a connection per call in flight, kept alive).
 */
class TrackOverTlsIT {
    private static final String PASSWORD = "changeit";

    @Test
    void moreCallsInFlightThanTheServersStreamCapAllSucceedWithoutAnIoError(@TempDir Path dir) throws Exception {
        Path serverStore = dir.resolve("server.p12");
        Path trustStore = dir.resolve("trust.p12");
        Path cert = dir.resolve("server.crt");
        keytool("-genkeypair", "-alias", "localhost", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2", "-keystore", serverStore.toString(),
                "-storetype", "PKCS12", "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool("-exportcert", "-alias", "localhost", "-keystore", serverStore.toString(), "-storetype", "PKCS12",
                "-storepass", PASSWORD, "-file", cert.toString());
        keytool("-importcert", "-noprompt", "-alias", "localhost", "-file", cert.toString(), "-keystore", trustStore.toString(),
                "-storetype", "PKCS12", "-storepass", PASSWORD);

        // HTTP/2 over TLS (ALPN), Jetty's cap of 128 streams at once; each answer takes a second. A
        // backlog for the 160 connections HTTP/1.1 opens at once, as a real front end has (the
        // JDK's default of 50 dropped connection attempts, which then timed out on a loaded machine)
        WireMockServer track = new WireMockServer(options().dynamicPort().dynamicHttpsPort().http2TlsDisabled(false)
                .jettyAcceptQueueSize(1024).jettyAcceptors(2)
                .keystorePath(serverStore.toString()).keystoreType("PKCS12").keystorePassword(PASSWORD).keyManagerPassword(PASSWORD)
                .asynchronousResponseEnabled(true).asynchronousResponseThreads(8).containerThreads(64));
        track.start();
        // suppress and destroy (the worker's check of the URL with a made-up key finds no 200 here)
        track.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(anyUrl()).willReturn(okJson("{}").withFixedDelay(1_000)));
        track.stubFor(com.github.tomakehurst.wiremock.client.WireMock.delete(anyUrl()).willReturn(okJson("{}").withFixedDelay(1_000)));
        String trackUrl = "https://localhost:" + track.httpsPort();
        int requests = 160; // more than the 128 streams at once
        Path log = Files.createTempFile("tls-worker", ".log");
        List<String> calls;
        try (WorkerHarness h = WorkerHarness.forStub(URI.create(trackUrl))) {
            // a long time-out: on a loaded machine, WireMock's answers over 160 new TLS connections come late
            Process worker = WorkerProcess.start(h.settings, trackUrl, 1000, Map.of("ERASURE_MAX_IN_FLIGHT", "256", "CUSTOMERIO_TIMEOUT_SECONDS", "30",
                    "JAVA_TOOL_OPTIONS", "-Djavax.net.ssl.trustStore=" + trustStore + " -Djavax.net.ssl.trustStoreType=PKCS12"
                            + " -Djavax.net.ssl.trustStorePassword=" + PASSWORD), log);
            try {
                for (int i = 0; i < requests; i++) {
                    h.send(Messages.request("tls-" + i, "id", "tls-person-" + i));
                }
                await().atMost(Duration.ofSeconds(120)).until(() -> h.outcomes() == requests);
                java.util.regex.Matcher port = java.util.regex.Pattern.compile("metrics and health on http://localhost:(\\d+)/")
                        .matcher(Files.readString(log));
                assertThat(port.find()).isTrue();
                calls = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port.group(1) + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString())
                        .body().lines().filter(l -> l.startsWith("erasure_track_call_seconds_count")).toList();
                worker.destroy();
                assertThat(worker.waitFor(40, TimeUnit.SECONDS)).isTrue();
            } finally {
                worker.destroyForcibly();
            }
            String said = Files.readString(log);
            Files.deleteIfExists(log);
            // Before: 40-odd calls failed in the client at once, as I/O errors Customer.io never saw,
            // were tried again, and opened the breaker. Calls may still time out on a loaded
            // machine (WireMock answering 160 connections), and are then tried again: that is no
            // I/O error, and every request still completes.
            assertThat(h.count("SELECT count(*) FROM audit_event WHERE step = 'OUTCOME' AND outcome = 'COMPLETED'")).as(said)
                    .isEqualTo(requests);
            assertThat(calls).as("calls by status").isNotEmpty().noneMatch(l -> l.contains("status=\"io_error\""));
            assertThat(said).doesNotContain("too many concurrent streams");
        } finally {
            track.stop();
        }
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(out).isZero();
    }
}
