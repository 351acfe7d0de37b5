package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.config.Secret;
import dev.cioerasure.testing.LogCapture;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Track key file rewritten while the worker runs, as SITE_ID:API_KEY, naming the site id another
 * workspace at the same Track URL calls (a copy of the wrong secret): that workspace's erasures
 * were made in the other one and recorded in its own, which kept the person. Its calls are held
 * back now; the workspace that kept its site id goes on.
 */
class SiteIdGuardTest {
    private static final URI US = URI.create("https://track.customer.io");

    @TempDir
    Path dir;

    @Test
    void aWorkspaceWhoseKeyFileNowNamesAnothersSiteIdIsHeldBackUntilItNamesItsOwn() throws Exception {
        Path bKey = Files.writeString(dir.resolve("b.key"), "key-b");
        Path cKey = Files.writeString(dir.resolve("c.key"), "key-c");
        SiteIdGuard guard = new SiteIdGuard(List.of(
                new SiteIdGuard.Member("brand-a", US, "site-a", Secret.of("k", "key-a")),
                new SiteIdGuard.Member("brand-b", URI.create("https://track.customer.io/"), "site-b", Secret.fromFile("b", bKey)),
                new SiteIdGuard.Member("brand-eu", URI.create("https://track-eu.customer.io"), "site-c", Secret.fromFile("c", cKey))));
        assertThat(guard.conflict("brand-b")).isEmpty();

        Files.writeString(bKey, "site-a:the-wrong-secret-value");
        try (LogCapture logs = LogCapture.capture()) {
            for (int call = 0; call < 3; call++) {
                assertThat(guard.conflict("brand-b")).hasValueSatisfying(why -> assertThat(why).isEqualTo("the Track key file of"
                        + " workspace brand-b now names site id site-a, the one workspace brand-a calls at https://track.customer.io/: its"
                        + " erasures would be made in brand-a and recorded in brand-b, which would keep the person"));
            }
            assertThat(guard.conflict("brand-a")).as("the workspace that kept its site id goes on").isEmpty();
            assertThat(logs.lines().stream().filter(l -> l.contains("now names site id site-a"))).as("said once").hasSize(1);
            assertThat(logs.lines()).noneSatisfy(l -> assertThat(l).contains("the-wrong-secret-value"));
        }

        Files.writeString(bKey, "site-b-2:a-new-credential-set");
        try (LogCapture logs = LogCapture.capture()) {
            assertThat(guard.conflict("brand-b")).as("a new credential set of its own: a rotation").isEmpty();
            assertThat(logs.lines()).anySatisfy(l -> assertThat(l).contains("workspace brand-b names a site id no other workspace calls"));
        }
        Files.writeString(cKey, "site-a:key-of-another-region");
        assertThat(guard.conflict("brand-eu")).as("the same site id at another Track URL is another workspace").isEmpty();

        SiteIdGuard one = new SiteIdGuard(List.of(new SiteIdGuard.Member("default", US, "site-a", Secret.fromFile("b", bKey))));
        Files.writeString(bKey, "site-z:whatever-value");
        assertThat(one.conflict("default")).as("one workspace: no other's site id").isEmpty();
    }

    /** Both transports (v1 calls and v2 batches) send nothing while the guard holds a workspace back. */
    @Test
    void neitherTransportSendsWhileTheWorkspaceIsHeldBack() throws Exception {
        URI nowhere = URI.create("http://127.0.0.1:9"); // a call that went out would come back io_error, not this
        Path bKey = Files.writeString(dir.resolve("b.key"), "key-b");
        SiteIdGuard guard = new SiteIdGuard(List.of(new SiteIdGuard.Member("brand-a", nowhere, "site-a", Secret.of("k", "key-a")),
                new SiteIdGuard.Member("brand-b", nowhere, "site-b", Secret.fromFile("b", bKey))));
        TrackEndpoint b = new TrackEndpoint(nowhere, "site-b", Secret.fromFile("b", bKey), java.time.Duration.ofSeconds(1),
                java.time.Duration.ofSeconds(1));
        Files.writeString(bKey, "site-a:key-a-copied");
        TrackResult call = TrackClient.http(b, java.time.Clock.systemUTC(), guard, "brand-b", vouched(nowhere))
                .suppress(dev.cioerasure.request.Identifier.id("person-1"));
        assertThat(call.kind()).isEqualTo(TrackResult.Kind.UNAUTHORIZED);
        assertThat(call.status()).isZero();
        assertThat(call.metricTag()).isEqualTo(SiteIdGuard.NOT_SENT);
        BatchClient.Response batch = BatchClient.http(b, java.time.Clock.systemUTC(), guard, "brand-b", vouched(nowhere))
                .send(List.of(new BatchClient.Item(TrackOperation.SUPPRESS, dev.cioerasure.request.Identifier.id("person-1"))));
        assertThat(batch.kind()).isEqualTo(TrackResult.Kind.UNAUTHORIZED);
        assertThat(batch.detail()).isEqualTo(SiteIdGuard.NOT_SENT);
        Files.writeString(bKey, "key-b-rotated");
        assertThat(TrackClient.http(b, java.time.Clock.systemUTC(), guard, "brand-b", vouched(nowhere)).suppress(dev.cioerasure.request.Identifier.id("p"))
                .kind()).as("its own site id again: the call goes out (and finds nobody at port 9)").isEqualTo(TrackResult.Kind.RETRYABLE);
    }

    /** A watch of the URL that has seen it refuse a made-up key: it holds nothing back. */
    static TrackUrlWatch vouched(URI url) {
        return new TrackUrlWatch(url, () -> new TrackResult(TrackOperation.REGION, 401, TrackResult.Kind.UNAUTHORIZED,
                java.util.Optional.empty(), "http 401", java.time.Duration.ZERO), java.time.Clock.systemUTC());
    }
}
