package dev.cioerasure.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.config.SettingsLoader.Part;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CUSTOMERIO_WORKSPACES_FILE: several workspaces, each checked by the single workspace's rules, keys only as files. */
class WorkspacesFileTest {
    private static final EnumSet<Part> CIO = EnumSet.of(Part.CUSTOMERIO);

    @TempDir
    Path dir;

    private Map<String, String> env(String fileName, String content) throws Exception {
        Files.writeString(dir.resolve("us.key"), "us-track-key-value\n");
        Files.writeString(dir.resolve("eu.key"), "eu-track-key-value");
        Files.writeString(dir.resolve("eu-app.key"), "eu-app-key-value");
        Path f = Files.writeString(dir.resolve(fileName), content.replace("DIR", dir.toString()));
        Map<String, String> env = new HashMap<>();
        env.put("CUSTOMERIO_WORKSPACES_FILE", f.toString());
        env.put("CUSTOMERIO_MAX_ATTEMPTS", "3");
        return env;
    }

    @Test
    void aYamlListGivesEachWorkspaceItsOwnSiteKeyRegionAndLimitsSharingTheRest() throws Exception {
        Settings s = SettingsLoader.load(env("ws.yaml", """
                workspaces:
                  - name: brand-us
                    site_id: site-us
                    track_api_key_file: DIR/us.key
                    rate_limit_per_second: 200
                  - name: brand-eu
                    site_id: site-eu
                    track_api_key_file: DIR/eu.key
                    region: eu
                    app_api_key_file: DIR/eu-app.key
                    app_rate_limit_per_second: 5
                  - name: staging
                    site_id: site-st
                    track_api_key_file: DIR/us.key
                    track_url: http://localhost:8089/
                """), CIO);
        assertThat(s.workspaces()).extracting(Settings.Workspace::name).containsExactly("brand-us", "brand-eu", "staging");
        Settings.CustomerIo us = s.workspaces().get(0).customerIo();
        Settings.CustomerIo eu = s.workspaces().get(1).customerIo();
        Settings.CustomerIo staging = s.workspaces().get(2).customerIo();
        assertThat(us.siteId()).isEqualTo("site-us");
        assertThat(us.apiKey().reveal()).isEqualTo("us-track-key-value");
        assertThat(us.rateLimitPerSecond()).isEqualTo(200);
        assertThat(us.baseUrl()).isEqualTo(URI.create("https://track.customer.io"));
        assertThat(us.verification().enabled()).isFalse();
        assertThat(eu.baseUrl()).isEqualTo(URI.create("https://track-eu.customer.io"));
        assertThat(eu.rateLimitPerSecond()).as("default").isEqualTo(100);
        assertThat(eu.verification().appKey().reveal()).isEqualTo("eu-app-key-value");
        assertThat(eu.verification().rateLimitPerSecond()).isEqualTo(5);
        assertThat(eu.appBaseUrl()).isEqualTo(URI.create("https://api-eu.customer.io"));
        assertThat(staging.baseUrl()).isEqualTo(URI.create("http://localhost:8089"));
        assertThat(List.of(us, eu, staging)).as("shared settings come from the environment")
                .allMatch(c -> c.maxAttempts() == 3);
        assertThat(s.customerIo()).as("the first workspace stands for the shared settings").isSameAs(us);
        String described = s.describe();
        assertThat(described).contains("workspace brand-eu: site_id=site-eu, track key [hidden]", "region eu")
                .doesNotContain("us-track-key-value", "eu-track-key-value", "eu-app-key-value");
    }

    @Test
    void theShippedExampleIsValidOnceItsKeyFilesExist() throws Exception {
        String example = Files.readString(Path.of("config", "workspaces.example.yaml"));
        for (String key : List.of("brand_us_track_api_key", "brand_us_app_api_key", "brand_eu_track_api_key")) {
            Files.writeString(dir.resolve(key), "value-of-" + key);
            example = example.replace("/run/secrets/" + key, dir.resolve(key).toString());
        }
        Path f = Files.writeString(dir.resolve("example.yaml"), example);
        Settings s = SettingsLoader.load(Map.of("CUSTOMERIO_WORKSPACES_FILE", f.toString()), CIO);
        assertThat(s.workspaces()).extracting(Settings.Workspace::name).containsExactly("brand-us", "brand-eu");
        assertThat(s.workspaces().get(0).customerIo().verification().enabled()).isTrue();
    }

    @Test
    void jsonIsReadToo() throws Exception {
        Settings s = SettingsLoader.load(env("ws.json", """
                {"workspaces": [{"name": "only", "site_id": "s1", "track_api_key_file": "DIR/us.key"}]}
                """), CIO);
        assertThat(s.workspaces()).extracting(Settings.Workspace::name).containsExactly("only");
    }

    @Test
    void withoutAFileTheSingleWorkspaceIsNamedDefaultOrAsConfigured() {
        Map<String, String> env = new HashMap<>(Map.of("CUSTOMERIO_SITE_ID", "s", "CUSTOMERIO_TRACK_API_KEY", "k"));
        assertThat(SettingsLoader.load(env, CIO).workspaces()).extracting(Settings.Workspace::name).containsExactly("default");
        env.put("CUSTOMERIO_WORKSPACE_NAME", "brand-us");
        assertThat(SettingsLoader.load(env, CIO).workspaces()).extracting(Settings.Workspace::name).containsExactly("brand-us");
        env.put("CUSTOMERIO_WORKSPACE_NAME", "Brand US");
        assertThatThrownBy(() -> SettingsLoader.load(env, CIO)).hasMessageContaining("CUSTOMERIO_WORKSPACE_NAME: 'Brand US' is not a workspace name");
    }

    @Test
    void everyProblemNamesTheWorkspaceAndTheFilesKeyNeverAValue() throws Exception {
        Map<String, String> env = env("bad.yaml", """
                workspaces:
                  - name: a
                    site_id: s
                    track_api_key: inline-secret-value
                  - name: b
                    site_id: s
                    track_api_key_file: DIR/missing.key
                    region: mars
                    rate_limit_per_second: 0
                  - name: a
                    site_id: s
                    track_api_key_file: DIR/us.key
                  - name: NOT OK
                    site_id: s
                """);
        assertThatThrownBy(() -> SettingsLoader.load(env, CIO))
                .hasMessageContainingAll(
                        "CUSTOMERIO_WORKSPACES_FILE: workspace a: unknown key 'track_api_key'",
                        "keys are given as files, never inline",
                        "workspace a: track_api_key_file is required",
                        "workspace b: track_api_key_file: ", "is not a readable file",
                        "workspace b: region: must be 'us' or 'eu' (got 'mars')",
                        "workspace b: rate_limit_per_second: 0 is out of range (1..100000)",
                        "workspace 4: name: 'NOT OK' is not a workspace name")
                .message().doesNotContain("inline-secret-value", "CUSTOMERIO_REGION", "CUSTOMERIO_TRACK_API_KEY_FILE");
    }

    /**
     * YAML forbids a key twice in one mapping; a lenient reader keeps the last one, so the first
     * list of workspaces (here brand-us) or the first key file would be dropped without a word.
     */
    @Test
    void aKeyTwiceInOneMappingIsAnErrorNotTheLastOneWins() throws Exception {
        Map<String, String> twoLists = env("lists.yaml", """
                workspaces:
                  - {name: brand-us, site_id: site-us, track_api_key_file: DIR/us.key}
                workspaces:
                  - {name: brand-eu, site_id: site-eu, track_api_key_file: DIR/eu.key}
                """);
        assertThatThrownBy(() -> SettingsLoader.load(twoLists, CIO))
                .hasMessageContaining("CUSTOMERIO_WORKSPACES_FILE: ").hasMessageContaining("names a key twice in one mapping (line 3)");
        Map<String, String> twoKeys = env("keys.yaml", """
                workspaces:
                  - name: brand-us
                    site_id: site-us
                    track_api_key_file: DIR/us.key
                    track_api_key_file: DIR/eu.key
                """);
        assertThatThrownBy(() -> SettingsLoader.load(twoKeys, CIO)).hasMessageContaining("names a key twice in one mapping (line 5)");
        Map<String, String> json = env("keys.json", "{\"workspaces\": [{\"name\": \"a\", \"site_id\": \"s\", \"site_id\": \"t\","
                + " \"track_api_key_file\": \"DIR/us.key\"}]}");
        assertThatThrownBy(() -> SettingsLoader.load(json, CIO)).hasMessageContaining("names a key twice in one mapping (line 1)");
    }

    @Test
    void aNameUsedTwiceAnEmptyListAndSingleWorkspaceVariablesBesideTheFileAreErrors() throws Exception {
        Map<String, String> twice = env("twice.yaml", """
                workspaces:
                  - {name: a, site_id: s, track_api_key_file: DIR/us.key}
                  - {name: a, site_id: t, track_api_key_file: DIR/eu.key}
                """);
        assertThatThrownBy(() -> SettingsLoader.load(twice, CIO)).hasMessageContaining("workspace 2: the name 'a' is used twice");
        Map<String, String> empty = env("empty.yaml", "workspaces: []\n");
        assertThatThrownBy(() -> SettingsLoader.load(empty, CIO)).hasMessageContaining("must hold one key, 'workspaces', a list of 1-16");
        Map<String, String> both = env("ok.yaml", "workspaces:\n  - {name: a, site_id: s, track_api_key_file: DIR/us.key}\n");
        both.put("CUSTOMERIO_SITE_ID", "s");
        both.put("CUSTOMERIO_TRACK_API_KEY", "k");
        assertThatThrownBy(() -> SettingsLoader.load(both, CIO))
                .hasMessageContaining("CUSTOMERIO_WORKSPACES_FILE: is set, so CUSTOMERIO_SITE_ID, CUSTOMERIO_TRACK_API_KEY must not be");
        Map<String, String> broken = env("broken.yaml", "workspaces: [ {name: a\n");
        assertThatThrownBy(() -> SettingsLoader.load(broken, CIO)).hasMessageContaining("is not valid YAML or JSON");
        // the wrong file named (50 MB ran a 128 MB worker out of memory): refused by its size, unread
        Map<String, String> large = env("large.yaml", "workspaces:\n  - {name: a, site_id: s, track_api_key_file: DIR/us.key}\n#"
                + "x".repeat(1024 * 1024) + "\n");
        assertThatThrownBy(() -> SettingsLoader.load(large, CIO))
                .hasMessageContaining("CUSTOMERIO_WORKSPACES_FILE: '" + dir.resolve("large.yaml") + "' is larger than 1,048,576 bytes");
        Map<String, String> missing = new HashMap<>(Map.of("CUSTOMERIO_WORKSPACES_FILE", dir.resolve("nope.yaml").toString()));
        assertThatThrownBy(() -> SettingsLoader.load(missing, CIO)).hasMessageContaining("is not a readable file");
    }

    /**
     * A block copied for a staging workspace with its site_id left as it was: two names for one
     * Customer.io workspace. Each took the whole rate limit there, and a request was recorded
     * erased in both while the staging workspace kept the person. The site id a key file names
     * (SITE_ID:API_KEY) is the one compared; the same site id at another Track URL is another workspace.
     */
    @Test
    void twoEntriesForOneSiteIdAtOneTrackUrlAreOneWorkspaceAndRefused() throws Exception {
        Map<String, String> copied = env("copied.yaml", """
                workspaces:
                  - {name: prod, site_id: site-1, track_api_key_file: DIR/us.key}
                  - {name: staging, site_id: site-1, track_api_key_file: DIR/eu.key}
                """);
        assertThatThrownBy(() -> SettingsLoader.load(copied, CIO)).hasMessageContaining("CUSTOMERIO_WORKSPACES_FILE: workspaces 'prod' and"
                + " 'staging' both call site id site-1 at https://track.customer.io: they are one Customer.io workspace")
                .message().doesNotContain("us-track-key-value", "eu-track-key-value");

        Files.writeString(dir.resolve("rotated.key"), "site-1:new-track-key-value");
        Map<String, String> rotated = env("rotated.yaml", """
                workspaces:
                  - {name: prod, site_id: site-1, track_api_key_file: DIR/us.key}
                  - {name: staging, site_id: site-2, track_api_key_file: DIR/rotated.key, track_url: "https://track.customer.io/"}
                """);
        assertThatThrownBy(() -> SettingsLoader.load(rotated, CIO)).hasMessageContaining("workspaces 'prod' and 'staging' both call site id"
                + " site-1").message().doesNotContain("new-track-key-value");

        Map<String, String> regions = env("regions.yaml", """
                workspaces:
                  - {name: us, site_id: site-1, track_api_key_file: DIR/us.key}
                  - {name: eu, site_id: site-1, track_api_key_file: DIR/eu.key, region: eu}
                """);
        assertThat(SettingsLoader.load(regions, CIO).workspaces()).hasSize(2);
    }

    /**
     * One App API key given to two workspaces (a block copied, its app_api_key_file left as it
     * was, or two files holding one key): a key reads one workspace, so the other's checks asked a
     * workspace its people were never in, and each 404 recorded VERIFIED, erased or not. The key
     * files' contents are compared; one key at another App URL (another region) is allowed.
     */
    @Test
    void oneAppApiKeyForTwoWorkspacesAtOneAppUrlIsRefused() throws Exception {
        Files.writeString(dir.resolve("copy-of-eu-app.key"), "eu-app-key-value\n");
        Map<String, String> copied = env("app-copied.yaml", """
                workspaces:
                  - {name: prod, site_id: site-1, track_api_key_file: DIR/us.key, app_api_key_file: DIR/eu-app.key}
                  - {name: staging, site_id: site-2, track_api_key_file: DIR/eu.key, app_api_key_file: DIR/copy-of-eu-app.key}
                """);
        assertThatThrownBy(() -> SettingsLoader.load(copied, CIO)).hasMessageContaining("CUSTOMERIO_WORKSPACES_FILE: workspaces 'prod' and"
                + " 'staging' use the same App API key at https://api.customer.io: a key reads one Customer.io workspace, so the other's"
                + " checks would ask a workspace its people were never in, and record them VERIFIED (gone) whether erased or not")
                .message().doesNotContain("eu-app-key-value");

        Map<String, String> regions = env("app-regions.yaml", """
                workspaces:
                  - {name: us, site_id: site-1, track_api_key_file: DIR/us.key, app_api_key_file: DIR/eu-app.key}
                  - {name: eu, site_id: site-2, track_api_key_file: DIR/eu.key, app_api_key_file: DIR/eu-app.key, region: eu}
                """);
        assertThat(SettingsLoader.load(regions, CIO).workspaces()).hasSize(2);
        Files.writeString(dir.resolve("other-app.key"), "other-app-key-value");
        Map<String, String> own = env("app-own.yaml", """
                workspaces:
                  - {name: prod, site_id: site-1, track_api_key_file: DIR/us.key, app_api_key_file: DIR/eu-app.key,
                     app_control_person_id: qa-seed-7}
                  - {name: staging, site_id: site-2, track_api_key_file: DIR/eu.key, app_api_key_file: DIR/other-app.key}
                  - {name: plain, site_id: site-3, track_api_key_file: DIR/eu.key}
                """);
        assertThat(SettingsLoader.load(own, CIO).workspaces()).hasSize(3).first()
                .satisfies(w -> assertThat(w.customerIo().verification().controlPersonId().reveal()).isEqualTo("qa-seed-7"));
    }
}
