package dev.cioerasure.cli;

import dev.cioerasure.config.Settings;
import dev.cioerasure.config.SettingsLoader;
import dev.cioerasure.request.Identifier;
import dev.cioerasure.customerio.AppClient;
import dev.cioerasure.customerio.AppEndpoint;
import dev.cioerasure.customerio.PresenceResult;
import dev.cioerasure.customerio.RegionCheck;
import dev.cioerasure.customerio.TrackClient;
import dev.cioerasure.customerio.TrackEndpoint;
import dev.cioerasure.customerio.TrackResult;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "credentials", mixinStandardHelpOptions = true, description = "Check the Customer.io Track (and App API) credentials.",
        subcommands = CredentialsCommand.Verify.class)
final class CredentialsCommand {

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Check the Customer.io credentials (Track, and the App API when set) against Customer.io.",
                    "CUSTOMERIO_SITE_ID, CUSTOMERIO_TRACK_API_KEY and CUSTOMERIO_REGION (GET"
                            + " /api/v1/accounts/region: no side effects), and CUSTOMERIO_APP_API_KEY when set (the look-up of a"
                            + " person who does not exist). With CUSTOMERIO_WORKSPACES_FILE, every workspace's (its site_id,"
                            + " track_api_key_file, region and app_api_key_file). Exit 0 when all work, 1 when any does not."})
    static final class Verify implements Callable<Integer> {
        @Override
        public Integer call() {
            Settings s = SettingsLoader.load(Main.environment(), EnumSet.of(SettingsLoader.Part.CUSTOMERIO));
            s.plainHttpWarnings().forEach(w -> System.out.println("WARNING: " + w));
            int worst = 0;
            boolean several = s.workspaces().size() > 1;
            for (Settings.Workspace w : s.workspaces()) {
                if (several) {
                    System.out.println("workspace " + w.name() + ":");
                }
                Settings.CustomerIo c = w.customerIo();
                int track = track(c);
                int app = c.verification().enabled() ? app(c) : 0;
                worst = Math.max(worst, Math.max(track, app));
            }
            if (several) {
                System.out.println(worst == 0 ? "all " + s.workspaces().size() + " workspaces OK" : "at least one workspace FAILED the check");
            }
            return worst;
        }

        /**
         * The key must find the control person: a key of another workspace is accepted and
         * answers 404 for everyone, each of which the worker would record VERIFIED.
         */
        private static int controlPerson(Settings.CustomerIo c) {
            PresenceResult found = AppClient.http(new AppEndpoint(c.appBaseUrl(), c.verification().appKey(), c.connectTimeout(),
                    c.requestTimeout()), Clock.systemUTC()).lookup(Identifier.id(c.verification().controlPersonId().reveal()));
            if (found.kind() == PresenceResult.Kind.PRESENT) {
                System.out.println("OK: the App API accepts CUSTOMERIO_APP_API_KEY, and it finds the control person"
                        + " (CUSTOMERIO_APP_CONTROL_PERSON_ID): it reads the workspace that holds that person (verification can run)");
                return 0;
            }
            System.out.println(switch (found.kind()) {
                case GONE -> "WRONG WORKSPACE: CUSTOMERIO_APP_API_KEY does not find the control person (CUSTOMERIO_APP_CONTROL_PERSON_ID):"
                        + " it is a key of another workspace, or that person was erased; each 404 would be recorded VERIFIED without the"
                        + " person being looked for where they were.";
                case RETRYABLE -> "UNREACHABLE: no usable answer to the look-up of the control person (" + found.detail() + "); try again.";
                default -> "UNEXPECTED: the look-up of the control person (CUSTOMERIO_APP_CONTROL_PERSON_ID) was answered "
                        + found.detail() + ".";
            });
            return 1;
        }

        /**
         * The App API key: a look-up of a made-up person must answer 404 (key accepted, no such
         * person), and the same look-up with a made-up key must be refused. A server that answers
         * 404 whatever the key (a wrong CUSTOMERIO_APP_URL: a gateway's or another API's JSON 404)
         * is not the App API, and the worker would record each of its 404s as VERIFIED.
         */
        private static int app(Settings.CustomerIo c) {
            System.out.println("checking the App API key from " + c.verification().appKey().source() + " at " + c.appBaseUrl());
            Identifier nobody = Identifier.id("cio-erasure-credential-check-" + UUID.randomUUID());
            PresenceResult r = AppClient.http(new AppEndpoint(c.appBaseUrl(), c.verification().appKey(), c.connectTimeout(),
                    c.requestTimeout()), Clock.systemUTC()).lookup(nobody);
            switch (r.kind()) {
                case GONE, PRESENT -> {
                    PresenceResult control = AppClient.http(AppEndpoint.madeUp(c.appBaseUrl(), c.connectTimeout(), c.requestTimeout()),
                            Clock.systemUTC()).lookup(nobody);
                    if (control.isAnswer()) {
                        System.out.println("UNEXPECTED: " + c.appBaseUrl() + " answered " + control.detail() + " to the same look-up with a"
                                + " made-up key: it does not check App API keys, so it is not the App API, and each of its 404s would be"
                                + " recorded VERIFIED without Customer.io being asked. Check CUSTOMERIO_REGION and CUSTOMERIO_APP_URL.");
                        return 1;
                    }
                    if (c.verification().controlPersonId() != null) {
                        return controlPerson(c);
                    }
                    System.out.println("OK: the App API accepts CUSTOMERIO_APP_API_KEY (verification can run; without"
                            + " CUSTOMERIO_APP_CONTROL_PERSON_ID a key of another workspace is accepted too)");
                    return 0;
                }
                case UNAUTHORIZED -> {
                    System.out.println("REJECTED: the App API refused CUSTOMERIO_APP_API_KEY (HTTP " + r.status() + "). Check that it is an"
                            + " App API key (not a Track key) of this workspace, and that it has not been deleted.");
                    return 1;
                }
                case RETRYABLE -> {
                    if (redirected(c.appBaseUrl(), r.status(), "CUSTOMERIO_APP_URL")) {
                        return 1;
                    }
                    if (untrusted(c.appBaseUrl(), r.detail())) {
                        return 1;
                    }
                    System.out.println("UNREACHABLE: no usable answer from " + c.appBaseUrl() + " (" + r.detail() + "). Check the"
                            + " network, CUSTOMERIO_REGION and CUSTOMERIO_APP_URL; then try again.");
                    return 1;
                }
                default -> {
                    System.out.println("UNEXPECTED: " + c.appBaseUrl() + " answered " + r.detail() + " to a person look-up: is it the"
                            + " App API? Check CUSTOMERIO_REGION and CUSTOMERIO_APP_URL.");
                    return 1;
                }
            }
        }

        private static int track(Settings.CustomerIo c) {
            TrackEndpoint endpoint = new TrackEndpoint(c.baseUrl(), c.siteId(), c.apiKey(), c.connectTimeout(), c.requestTimeout());
            TrackClient client = TrackClient.http(endpoint, Clock.systemUTC());
            String site = endpoint.siteIdInUse();
            System.out.println("checking site id " + site + (site.equals(c.siteId()) ? "" : " (written with the key, instead of " + c.siteId() + ")")
                    + " with the key from " + c.apiKey().source() + " at " + c.baseUrl());
            if (c.apiKey().lastWritten() != null) {
                long days = Duration.between(c.apiKey().lastWritten(), Instant.now()).toDays();
                System.out.println("key file last written " + days + " day(s) ago" + (days >= 90 ? " — due for rotation (policy: 90 days)" : ""));
            }
            RegionCheck check = client.region();
            TrackResult r = check.result();
            switch (r.kind()) {
                case SUCCESS -> {
                    // and refused with a made-up key: a server that answers 200 whatever the key (a
                    // catch-all mock, a sandbox left in the settings) is not Customer.io, and every
                    // suppress and destroy sent there would be recorded SUCCEEDED
                    TrackResult control = TrackClient.checkWithMadeUpCredentials(c.baseUrl(), c.connectTimeout(), c.requestTimeout());
                    if (control.isSuccess()) {
                        System.out.println("UNEXPECTED: " + c.baseUrl() + " answered HTTP " + control.status() + " to the credential check"
                                + " with a made-up key too: it does not check Track credentials, so it is not Customer.io's Track API,"
                                + " and every suppress and destroy sent there would be recorded SUCCEEDED with nobody erased. Check"
                                + " CUSTOMERIO_REGION and CUSTOMERIO_TRACK_URL.");
                        return 1;
                    }
                    String configured = c.region().name().toLowerCase(Locale.ROOT);
                    if (check.region().isEmpty()) {
                        System.out.println("OK: Customer.io accepts the credentials; its answer did not name the workspace's region, so"
                                + " CUSTOMERIO_REGION ('" + configured + "') could not be checked");
                        return 0;
                    }
                    String region = check.region().get().toLowerCase(Locale.ROOT);
                    if (!region.equals(configured)) {
                        System.out.println("WRONG REGION: the credentials work, but the workspace is in region '" + region
                                + "' and CUSTOMERIO_REGION is '" + configured + "': set CUSTOMERIO_REGION=" + region);
                        return 1;
                    }
                    System.out.println("OK: Customer.io accepts the credentials; workspace region '" + region + "' matches CUSTOMERIO_REGION"
                            + (c.trackUrl() == null ? "" : " (base URL overridden by CUSTOMERIO_TRACK_URL)"));
                    return 0;
                }
                case UNAUTHORIZED -> {
                    System.out.println("REJECTED: Customer.io refused the site id and key (HTTP " + r.status() + "). Check that"
                            + " CUSTOMERIO_TRACK_API_KEY is a Track API key (not an App API key) of the workspace of CUSTOMERIO_SITE_ID,"
                            + " and that it has not been deleted.");
                    return 1;
                }
                case RETRYABLE -> {
                    if (redirected(c.baseUrl(), r.status(), "CUSTOMERIO_TRACK_URL")) {
                        return 1;
                    }
                    if (untrusted(c.baseUrl(), r.detail())) {
                        return 1;
                    }
                    System.out.println("UNREACHABLE: no usable answer from " + c.baseUrl() + " (" + r.detail() + "). Check the"
                            + " network, CUSTOMERIO_REGION and CUSTOMERIO_TRACK_URL; then try again.");
                    return 1;
                }
                default -> {
                    // whatever answers at a wrong URL (a proxy, another web server) is not Customer.io
                    System.out.println("UNEXPECTED: " + c.baseUrl() + " answered HTTP " + r.status() + " to the credential check"
                            + " (GET /api/v1/accounts/region): is it Customer.io's Track API? Check CUSTOMERIO_REGION and"
                            + " CUSTOMERIO_TRACK_URL.");
                    return 1;
                }
            }
        }
    }

    /**
     * Says so and is true when the TLS set-up failed: "no usable answer … check the network"
     * sent the operator the wrong way when a proxy that intercepts TLS stood in between.
     */
    private static boolean untrusted(java.net.URI url, String detail) {
        if (!TrackResult.TLS_FAILED.equals(detail)) {
            return false;
        }
        System.out.println("TLS FAILED: the TLS connection to " + url + " could not be set up (" + detail + "): its certificate is"
                + " not trusted by this JVM, or they share no TLS version or cipher. Behind a proxy that intercepts TLS, add its CA"
                + " to a trust store and give it to the JVM (-Djavax.net.ssl.trustStore=… in JAVA_OPTS); then try again.");
        return true;
    }

    /** Says so and is true for a 3xx, which the clients handle as an outage (see TrackResult.classify). */
    private static boolean redirected(Object baseUrl, int status, String urlSetting) {
        if (status < 300 || status >= 400) {
            return false;
        }
        System.out.println("REDIRECTED: " + baseUrl + " answered HTTP " + status + ", a redirect, which Customer.io does not send and"
                + " cio-erasure does not follow (it would carry the key elsewhere); the worker would wait as in an outage. Check"
                + " CUSTOMERIO_REGION and " + urlSetting + " (https://, no proxy in the way).");
        return true;
    }
}
