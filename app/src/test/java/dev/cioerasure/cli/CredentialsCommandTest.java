package dev.cioerasure.cli;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CredentialsCommandTest {
    private static WireMockServer track;

    @BeforeAll
    static void start() {
        track = new WireMockServer(options().dynamicPort());
        track.start();
    }

    @AfterAll
    static void stop() {
        track.stop();
    }

    /** site-9:key-secret-value, the credentials the checks below are given. */
    private static final String GOOD = "Basic c2l0ZS05OmtleS1zZWNyZXQtdmFsdWU=";

    @BeforeEach
    void reset() {
        track.resetAll();
        // as Customer.io: other credentials are refused
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).atPriority(10).willReturn(aResponse().withStatus(401)));
    }

    private record Run(int exit, String out) { }

    private Run verify(String region) {
        return verify(region, Map.of());
    }

    private Run verify(String region, Map<String, String> more) {
        Map<String, String> env = new HashMap<>(Map.of("CUSTOMERIO_SITE_ID", "site-9", "CUSTOMERIO_TRACK_API_KEY", "key-secret-value",
                "CUSTOMERIO_TRACK_URL", track.baseUrl()));
        env.putAll(more);
        if (region != null) {
            env.put("CUSTOMERIO_REGION", region);
        }
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            int exit = Main.run(env, "credentials", "verify");
            return new Run(exit, out.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(saved);
        }
    }

    @Test
    void workingCredentialsInTheConfiguredRegionPass() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).withHeader("Authorization", equalTo(GOOD))
                .willReturn(okJson("{\"url\":\"https://track.customer.io\",\"region\":\"us\",\"environment_id\":1}")));
        Run r = verify(null);
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("OK", "region 'us'").doesNotContain("key-secret-value");
    }

    @Test
    void aWorkspaceInAnotherRegionIsNamed() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).withHeader("Authorization", equalTo(GOOD))
                .willReturn(okJson("{\"url\":\"https://track-eu.customer.io\",\"region\":\"eu\",\"environment_id\":1}")));
        Run r = verify("us");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("WRONG REGION", "set CUSTOMERIO_REGION=eu");
    }

    @Test
    void aRegionThatIsNotARegionsNameIsNeitherPrintedNorSaidToMatch() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).withHeader("Authorization", equalTo(GOOD))
                .willReturn(okJson("{\"url\":\"https://track.customer.io\",\"region\":\"\\u001b[2Jus; export X=1\",\"environment_id\":1}")));
        Run r = verify("us");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("OK: Customer.io accepts the credentials; its answer did not name the workspace's region, so"
                + " CUSTOMERIO_REGION ('us') could not be checked").doesNotContain("\u001b", "export", "matches");
    }

    @Test
    void rejectedCredentialsSaySo() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).willReturn(aResponse().withStatus(401)));
        Run r = verify(null);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("REJECTED", "HTTP 401", "Track API key").doesNotContain("key-secret-value");
    }

    @Test
    void aServerThatIsNotTheTrackApiIsNotCalledCustomerIo() {
        track.resetAll(); // nothing stubbed: WireMock answers 404, as any other web server at a wrong CUSTOMERIO_TRACK_URL would
        Run r = verify(null);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("UNEXPECTED: " + track.baseUrl() + " answered HTTP 404 to the credential check"
                + " (GET /api/v1/accounts/region): is it Customer.io's Track API? Check CUSTOMERIO_REGION and CUSTOMERIO_TRACK_URL.")
                .doesNotContain("Customer.io answered");
    }

    /**
     * A certificate the JVM does not trust, as behind a proxy that intercepts TLS: it said
     * "UNREACHABLE … (io_error). Check the network", which sent the operator the wrong way.
     */
    @Test
    void aCertificateThisJvmDoesNotTrustIsNamedNotTakenForTheNetwork() {
        WireMockServer tls = new WireMockServer(options().dynamicPort().dynamicHttpsPort()); // WireMock's own certificate, trusted by no JVM
        tls.start();
        String https = "https://localhost:" + tls.httpsPort();
        tls.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).willReturn(okJson("{\"region\":\"us\"}")));
        Run r;
        try {
            r = verify(null, Map.of("CUSTOMERIO_TRACK_URL", https, "CUSTOMERIO_APP_API_KEY", "app-secret-value", "CUSTOMERIO_APP_URL", https));
            assertThat(tls.getAllServeEvents()).as("nothing was asked over a connection that was not set up").isEmpty();
        } finally {
            tls.stop();
        }
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("TLS FAILED: the TLS connection to " + https + " could not be set up (tls_error): its"
                + " certificate is not trusted by this JVM, or they share no TLS version or cipher. Behind a proxy that intercepts"
                + " TLS, add its CA to a trust store and give it to the JVM (-Djavax.net.ssl.trustStore=… in JAVA_OPTS); then try"
                + " again.");
        assertThat(r.out().lines().filter(l -> l.startsWith("TLS FAILED"))).as(r.out()).hasSize(2); // the Track and the App API
        assertThat(r.out()).doesNotContain("UNREACHABLE", "app-secret-value", "key-secret-value");
    }

    @Test
    void aPlainHttpUrlToAnotherMachineIsWarnedAboutFirst() {
        Run r = verify(null, Map.of("CUSTOMERIO_TRACK_URL", "http://track.example.invalid"));
        assertThat(r.out()).startsWith("WARNING: CUSTOMERIO_TRACK_URL is plain http:// to track.example.invalid: the Track API key crosses"
                + " the network unencrypted");
        assertThat(verify(null).out()).as("this machine's sandbox").doesNotContain("WARNING");
    }

    @Test
    void aRedirectIsNamedAndNotFollowed() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).willReturn(aResponse().withStatus(301)
                .withHeader("Location", track.baseUrl() + "/elsewhere")));
        Run r = verify(null);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("REDIRECTED: " + track.baseUrl() + " answered HTTP 301, a redirect, which Customer.io does not send",
                "Check CUSTOMERIO_REGION and CUSTOMERIO_TRACK_URL (https://, no proxy in the way)").doesNotContain("UNREACHABLE");
        assertThat(track.findAll(getRequestedFor(urlPathEqualTo("/elsewhere")))).isEmpty();
    }

    @Test
    void everyWorkspaceOfTheFileIsCheckedAndOneRefusedKeyFailsTheCheck(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        // site-9:key-secret-value is accepted; site-8 with its key is refused
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).atPriority(10).willReturn(aResponse().withStatus(401)));
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).atPriority(1)
                .withHeader("Authorization", equalTo("Basic c2l0ZS05OmtleS1zZWNyZXQtdmFsdWU="))
                .willReturn(okJson("{\"url\":\"https://track.customer.io\",\"region\":\"us\",\"environment_id\":1}")));
        java.nio.file.Files.writeString(dir.resolve("good.key"), "key-secret-value");
        java.nio.file.Files.writeString(dir.resolve("revoked.key"), "revoked-secret-value");
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("ws.yaml"), """
                workspaces:
                  - {name: brand-us, site_id: site-9, track_api_key_file: %1$s/good.key, track_url: "%2$s"}
                  - {name: brand-eu, site_id: site-8, track_api_key_file: %1$s/revoked.key, track_url: "%2$s"}
                """.formatted(dir, track.baseUrl()));
        PrintStream saved = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            exit = Main.run(Map.of("CUSTOMERIO_WORKSPACES_FILE", file.toString()), "credentials", "verify");
        } finally {
            System.setOut(saved);
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(exit).as(text).isEqualTo(1);
        assertThat(text).contains("workspace brand-us:", "workspace brand-eu:", "checking site id site-8", "REJECTED",
                "at least one workspace FAILED the check").doesNotContain("key-secret-value", "revoked-secret-value");
        assertThat(text.indexOf("OK: Customer.io accepts")).as("brand-us passes first").isBetween(text.indexOf("workspace brand-us:"),
                text.indexOf("workspace brand-eu:"));
    }

    @Test
    void missingSettingsAreNamedAndExit78() {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.run(Map.of(), "credentials", "verify");
            assertThat(exit).isEqualTo(78);
        } finally {
            System.setErr(saved);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("CUSTOMERIO_SITE_ID: missing", "CUSTOMERIO_TRACK_API_KEY: missing");
    }

    @Test
    void anAppApiKeyIsCheckedTooWhenSet() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).withHeader("Authorization", equalTo(GOOD))
                .willReturn(okJson("{\"url\":\"https://track.customer.io\",\"region\":\"us\",\"environment_id\":1}")));
        track.stubFor(get(com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching("/v1/customers/cio-erasure-credential-check-[0-9a-f-]+/attributes"))
                .withHeader("Authorization", equalTo("Bearer app-secret-value"))
                .willReturn(aResponse().withStatus(404).withHeader("Content-Type", "application/json").withBody("{\"errors\":[]}")));
        // as the App API: any other key is refused
        track.stubFor(get(com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching("/v1/customers/.*")).atPriority(10)
                .willReturn(aResponse().withStatus(401).withHeader("Content-Type", "application/json").withBody("{\"errors\":[]}")));
        Map<String, String> app = Map.of("CUSTOMERIO_APP_API_KEY", "app-secret-value", "CUSTOMERIO_APP_URL", track.baseUrl());
        Run ok = verify(null, app);
        assertThat(ok.exit()).as(ok.out()).isZero();
        assertThat(ok.out()).contains("OK: the App API accepts CUSTOMERIO_APP_API_KEY").doesNotContain("app-secret-value");

        Run refused = verify(null, Map.of("CUSTOMERIO_APP_API_KEY", "wrong-app-key", "CUSTOMERIO_APP_URL", track.baseUrl()));
        assertThat(refused.exit()).as("the Track key works, the App API key does not").isEqualTo(1);
        assertThat(refused.out()).contains("OK: Customer.io accepts the credentials", "REJECTED: the App API refused CUSTOMERIO_APP_API_KEY")
                .doesNotContain("wrong-app-key");

        // With a control person: the key must find that person, or it reads another workspace.
        Map<String, String> control = new java.util.HashMap<>(app);
        control.put("CUSTOMERIO_APP_CONTROL_PERSON_ID", "qa-seed-7");
        track.stubFor(get(urlPathEqualTo("/v1/customers/qa-seed-7/attributes")).withHeader("Authorization", equalTo("Bearer app-secret-value"))
                .willReturn(aResponse().withStatus(404).withHeader("Content-Type", "application/json").withBody("{\"errors\":[]}")));
        Run otherWorkspace = verify(null, control);
        assertThat(otherWorkspace.exit()).as(otherWorkspace.out()).isEqualTo(1);
        assertThat(otherWorkspace.out()).contains("WRONG WORKSPACE: CUSTOMERIO_APP_API_KEY does not find the control person"
                + " (CUSTOMERIO_APP_CONTROL_PERSON_ID): it is a key of another workspace, or that person was erased")
                .doesNotContain("qa-seed-7", "app-secret-value", "OK: the App API");
        track.stubFor(get(urlPathEqualTo("/v1/customers/qa-seed-7/attributes")).withHeader("Authorization", equalTo("Bearer app-secret-value"))
                .willReturn(okJson("{\"customer\":{\"id\":\"qa-seed-7\"}}")));
        Run found = verify(null, control);
        assertThat(found.exit()).as(found.out()).isZero();
        assertThat(found.out()).contains("OK: the App API accepts CUSTOMERIO_APP_API_KEY, and it finds the control person").doesNotContain("qa-seed-7");
    }

    /**
     * A CUSTOMERIO_APP_URL where something answers a JSON 404 whatever the key (a gateway,
     * another API): "OK" before, and the worker then recorded each of its 404s as VERIFIED,
     * a proof of erasure without Customer.io being asked.
     */
    @Test
    void anAppUrlThatAnswers404WhateverTheKeyIsNotTheAppApi() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).withHeader("Authorization", equalTo(GOOD))
                .willReturn(okJson("{\"url\":\"https://track.customer.io\",\"region\":\"us\",\"environment_id\":1}")));
        track.stubFor(get(com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching("/v1/customers/.*"))
                .willReturn(aResponse().withStatus(404).withHeader("Content-Type", "application/json").withBody("{\"message\":\"no route\"}")));
        Run r = verify(null, Map.of("CUSTOMERIO_APP_API_KEY", "app-secret-value", "CUSTOMERIO_APP_URL", track.baseUrl()));
        assertThat(r.exit()).as(r.out()).isEqualTo(1);
        assertThat(r.out()).contains("UNEXPECTED: " + track.baseUrl() + " answered http 404 to the same look-up with a made-up key: it"
                + " does not check App API keys, so it is not the App API, and each of its 404s would be recorded VERIFIED without"
                + " Customer.io being asked. Check CUSTOMERIO_REGION and CUSTOMERIO_APP_URL.").doesNotContain("OK: the App API", "app-secret-value");
    }

    /**
     * A CUSTOMERIO_TRACK_URL where something answers 200 whatever the credentials (a catch-all
     * mock, a sandbox left in the settings): "OK" before, and the worker then recorded every
     * suppress and destroy SUCCEEDED with nobody erased.
     */
    @Test
    void aTrackUrlThatAcceptsAnyKeyIsNotCustomerIo() {
        track.stubFor(get(urlPathEqualTo("/api/v1/accounts/region")).atPriority(1)
                .willReturn(okJson("{\"url\":\"https://track.customer.io\",\"region\":\"us\",\"environment_id\":1}")));
        Run r = verify(null);
        assertThat(r.exit()).as(r.out()).isEqualTo(1);
        assertThat(r.out()).contains("UNEXPECTED: " + track.baseUrl() + " answered HTTP 200 to the credential check with a made-up key"
                + " too: it does not check Track credentials, so it is not Customer.io's Track API, and every suppress and destroy sent"
                + " there would be recorded SUCCEEDED with nobody erased. Check CUSTOMERIO_REGION and CUSTOMERIO_TRACK_URL.")
                .doesNotContain("OK:", "key-secret-value");
    }
}
