package dev.cioerasure.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cioerasure.config.SettingsLoader.Part;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsLoaderTest {
    private static final EnumSet<Part> WORKER = EnumSet.of(Part.KAFKA, Part.DATABASE, Part.CUSTOMERIO, Part.AUDIT, Part.WORKER);

    private static Map<String, String> valid() {
        Map<String, String> env = new HashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092");
        env.put("DATABASE_URL", "jdbc:postgresql://db:5432/erasure");
        env.put("DATABASE_USER", "erasure_writer");
        env.put("DATABASE_PASSWORD", "db-password-value");
        env.put("CUSTOMERIO_SITE_ID", "site-1");
        env.put("CUSTOMERIO_TRACK_API_KEY", "track-key-value");
        env.put("AUDIT_SUBJECT_KEY", "audit-key-value-0123456789");
        return env;
    }

    /** A URL without a host made the driver try localhost:5432, where a worker waited for a database never meant. */
    @Test
    void aDatabaseUrlThatNamesNoHostIsRefused() {
        Map<String, String> env = valid();
        for (String url : List.of("jdbc:postgresql://", "jdbc:postgresql:///erasure", "jdbc:postgresql://:5432/erasure",
                "jdbc:postgresql://db1:5432,/erasure")) {
            env.put("DATABASE_URL", url);
            assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).as(url)
                    .hasMessageContaining("DATABASE_URL: names no host (jdbc:postgresql://HOST[:PORT]/DATABASE)");
        }
        for (String url : List.of("jdbc:postgresql://db/erasure", "jdbc:postgresql://db1:5432,db2:5433/erasure?targetServerType=primary",
                "jdbc:postgresql://[::1]:5432/erasure", "jdbc:postgresql://db?sslmode=require")) {
            env.put("DATABASE_URL", url);
            assertThat(SettingsLoader.load(env, WORKER).database().url()).isEqualTo(url);
        }
    }

    /**
     * Every connection sets {@code search_path = public, pg_temp}, so a schema asked for in the
     * URL was silently not used: {@code migrate} put the tables in public.
     */
    @Test
    void aDatabaseUrlThatNamesASchemaIsRefused() {
        Map<String, String> env = valid();
        for (String url : List.of("jdbc:postgresql://db/erasure?currentSchema=erasure", "jdbc:postgresql://db/erasure?ssl=true&currentSchema=a,b",
                "jdbc:postgresql://db/erasure?options=-c%20search_path%3Derasure", "jdbc:postgresql://db/erasure?options=-csearch_path=erasure",
                "jdbc:postgresql://db/erasure?options=-c%20SEARCH_PATH=x")) {
            env.put("DATABASE_URL", url);
            assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).as(url)
                    .hasMessageContaining("DATABASE_URL: names a schema (currentSchema, or search_path in options);")
                    .hasMessageContaining("give it a database of its own");
        }
        for (String url : List.of("jdbc:postgresql://db/erasure?options=-c%20statement_timeout%3D0", "jdbc:postgresql://db/schema?sslmode=require",
                "jdbc:postgresql://db/erasure?ApplicationName=currentSchema")) {
            env.put("DATABASE_URL", url);
            assertThat(SettingsLoader.load(env, WORKER).database().url()).as(url).isEqualTo(url);
        }
    }

    /**
     * The driver lets a {@code user} or {@code password} parameter of the URL override
     * DATABASE_USER and DATABASE_PASSWORD: a worker logged in as a role its messages did not name
     * ("PostgreSQL does not let user 'erasure_worker' log in" while it had tried another).
     */
    @Test
    void aDatabaseUrlThatSetsTheLoginIsRefusedWithoutShowingIt() {
        Map<String, String> env = valid();
        for (String url : List.of("jdbc:postgresql://db/erasure?user=other", "jdbc:postgresql://db/erasure?ssl=true&password=s3cret-pw",
                "jdbc:postgresql://db/erasure?sslmode=require&user=other&password=s3cret-pw")) {
            env.put("DATABASE_URL", url);
            assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).as(url)
                    .hasMessageContaining("DATABASE_URL: sets the parameter " + (url.contains("user=") ? "user" : "password")
                            + ", which would override DATABASE_USER and DATABASE_PASSWORD: leave the login out of the URL")
                    .message().doesNotContain("s3cret-pw");
        }
        // user:password@host the driver does not read: it tried a host named "other:s3cret-pw@db"
        for (String url : List.of("jdbc:postgresql://other:s3cret-pw@db:5432/erasure", "jdbc:postgresql://other@db/erasure?ssl=true")) {
            env.put("DATABASE_URL", url);
            assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).as(url)
                    .hasMessageContaining("DATABASE_URL: holds a user name or password before the host (user:password@host), which the"
                            + " PostgreSQL driver does not read: leave the login out of the URL and set DATABASE_USER")
                    .message().doesNotContain("s3cret-pw");
        }
        for (String url : List.of("jdbc:postgresql://db/erasure?ApplicationName=user", "jdbc:postgresql://db/erasure?sslpassword=x",
                "jdbc:postgresql://db/user?sslmode=require", "jdbc:postgresql://db/erasure?options=-c%20application_name%3Da@b")) {
            env.put("DATABASE_URL", url);
            assertThat(SettingsLoader.load(env, WORKER).database().url()).as(url).isEqualTo(url);
        }
    }

    /** A trailing comma passed the check, and the start-up check then said "no resolvable broker address" of the whole list. */
    @Test
    void aBootstrapListWithAnEmptyEntryIsRefusedSaySo() {
        Map<String, String> env = valid();
        for (String servers : List.of("kafka-1:9092,", ",kafka-1:9092", "kafka-1:9092,,kafka-2:9092", "kafka-1:9092, ")) {
            env.put("KAFKA_BOOTSTRAP_SERVERS", servers);
            assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).as(servers)
                    .hasMessageContaining("KAFKA_BOOTSTRAP_SERVERS: an empty entry between commas in '" + servers.trim() + "'");
        }
        env.put("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092, kafka-2:9092");
        assertThat(SettingsLoader.load(env, WORKER).kafka().bootstrapServers()).isEqualTo("kafka-1:9092, kafka-2:9092");
    }

    @Test
    void aWholeNumberTooLargeForItsSettingIsOutOfRangeNotMalformed() {
        Map<String, String> env = valid();
        env.put("CUSTOMERIO_RATE_LIMIT_PER_SECOND", "99999999999");
        env.put("CUSTOMERIO_MAX_ATTEMPTS", "1e3");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll(
                "CUSTOMERIO_RATE_LIMIT_PER_SECOND: 99999999999 is out of range (1..100000)",
                "CUSTOMERIO_MAX_ATTEMPTS: not a whole number ('1e3')");
    }

    @Test
    void durationsArePositiveAtMostAYearAndCommaListsHaveNoEmptyEntry() {
        Map<String, String> env = valid();
        // 99999999999999d was taken, and a record parked that long overflowed its due time
        env.put("ERASURE_RETRY_DELAYS", "30s,99999999999999d");
        env.put("ERASURE_STALL_AFTER", "0s");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll(
                "ERASURE_RETRY_DELAYS: '99999999999999d' must be longer than 0 and at most 365d",
                "ERASURE_STALL_AFTER: '0s' must be longer than 0 and at most 365d");
        env.put("ERASURE_RETRY_DELAYS", "30s,,5m");
        env.put("ERASURE_STALL_AFTER", "365d");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER))
                .hasMessageContaining("ERASURE_RETRY_DELAYS: an empty entry between commas in '30s,,5m'");
        env.put("ERASURE_RETRY_DELAYS", "");
        assertThat(SettingsLoader.load(env, WORKER).worker().retryDelays()).as("empty: no retry rounds, as documented").isEmpty();
    }

    @Test
    void theTopicsEventsAreWrittenToAreNoneOfTheTopicsTheWorkerReads() throws Exception {
        Map<String, String> env = valid();
        // outcome events on the request topic would be read as requests, rejected, and announced again, without end
        env.put("ERASURE_OUTCOMES_TOPIC", "erasure.requests");
        env.put("AUDIT_SIGNING_KEY_FILE", java.nio.file.Files.createTempFile("signing", ".pem").toString());
        env.put("AUDIT_CHECKPOINT_TOPIC", "erasure.requests.dlq");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll(
                "ERASURE_OUTCOMES_TOPIC: 'erasure.requests' is also the request topic (ERASURE_TOPIC); give each topic one purpose",
                "AUDIT_CHECKPOINT_TOPIC: 'erasure.requests.dlq' is also the dead-letter topic; give each topic one purpose");
        env.put("ERASURE_OUTCOMES_TOPIC", "erasure.outcomes");
        env.put("AUDIT_CHECKPOINT_TOPIC", "erasure.outcomes");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER))
                .hasMessageContaining("AUDIT_CHECKPOINT_TOPIC: 'erasure.outcomes' is also the outcomes topic (ERASURE_OUTCOMES_TOPIC)");
        env.put("AUDIT_CHECKPOINT_TOPIC", "erasure.audit.checkpoints");
        assertThat(SettingsLoader.load(env, WORKER).kafka().outcomesTopic()).isEqualTo("erasure.outcomes");
    }

    @Test
    void trackApiIsV1UnlessBatchIsAskedForAndTheBatchSettingsAreChecked() {
        Settings.Batch v1 = SettingsLoader.load(valid(), WORKER).customerIo().batch();
        assertThat(v1.enabled()).isFalse();
        Map<String, String> env = valid();
        env.put("CUSTOMERIO_TRACK_API", "batch");
        env.put("CUSTOMERIO_BATCH_MAX_ITEMS", "200");
        env.put("CUSTOMERIO_BATCH_MAX_WAIT_MS", "20");
        Settings s = SettingsLoader.load(env, WORKER);
        assertThat(s.customerIo().batch()).isEqualTo(new Settings.Batch(true, 200, java.time.Duration.ofMillis(20)));
        assertThat(s.describe()).contains("CUSTOMERIO_TRACK_API=batch (at most 200 persons or 20 ms a batch)");
        env.put("CUSTOMERIO_TRACK_API", "v3");
        env.put("CUSTOMERIO_BATCH_MAX_ITEMS", "5000");
        env.put("CUSTOMERIO_BATCH_MAX_WAIT_MS", "0");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll(
                "CUSTOMERIO_TRACK_API: must be 'v1' or 'batch' (got 'v3')",
                "CUSTOMERIO_BATCH_MAX_ITEMS: 5000 is out of range (1..1000)",
                "CUSTOMERIO_BATCH_MAX_WAIT_MS: 0 is out of range (1..10000)");
    }

    @Test
    void appliesTheDocumentedDefaults() {
        Settings s = SettingsLoader.load(valid(), WORKER);
        assertThat(s.kafka().topic()).isEqualTo("erasure.requests");
        assertThat(s.kafka().dlqTopic()).isEqualTo("erasure.requests.dlq");
        assertThat(s.kafka().groupId()).isEqualTo("cio-erasure");
        assertThat(s.customerIo().region()).isEqualTo(Settings.Region.US);
        assertThat(s.customerIo().baseUrl()).hasToString("https://track.customer.io");
        assertThat(s.customerIo().rateLimitPerSecond()).isEqualTo(100);
        assertThat(s.worker().metricsPort()).isEqualTo(9400);
    }

    @Test
    void checkpointsAreOffWithoutASigningKeyAndCheckedWhenAsked(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        assertThat(SettingsLoader.load(valid(), WORKER).audit().checkpoints().enabled()).isFalse();
        java.nio.file.Path key = java.nio.file.Files.writeString(dir.resolve("k.pem"), "pem");
        Map<String, String> env = valid();
        env.put("AUDIT_SIGNING_KEY_FILE", key.toString());
        env.put("AUDIT_CHECKPOINT_DIR", dir.toString());
        env.put("AUDIT_CHECKPOINT_EVERY", "30s");
        Settings.Checkpoints c = SettingsLoader.load(env, WORKER).audit().checkpoints();
        assertThat(c.enabled()).isTrue();
        assertThat(c.topic()).isEqualTo("erasure.audit.checkpoints");
        assertThat(c.every()).isEqualTo(java.time.Duration.ofSeconds(30));
        env.put("AUDIT_CHECKPOINT_TOPIC", "none");
        assertThat(SettingsLoader.load(env, WORKER).audit().checkpoints().topic()).isNull();
        env.put("AUDIT_SIGNING_KEY_FILE", dir.resolve("missing.pem").toString());
        env.put("AUDIT_CHECKPOINT_DIR", dir.resolve("nowhere").toString());
        env.put("AUDIT_CHECKPOINT_EVERY", "0s");
        env.put("AUDIT_CHECKPOINT_TOPIC", "bad topic!");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll("AUDIT_SIGNING_KEY_FILE", "is not a readable file",
                "AUDIT_CHECKPOINT_DIR", "is not a directory", "AUDIT_CHECKPOINT_EVERY", "AUDIT_CHECKPOINT_TOPIC");
    }

    @Test
    void verificationIsOffWithoutAnAppApiKeyAndFollowsTheRegionWithOne() {
        Settings.CustomerIo off = SettingsLoader.load(valid(), WORKER).customerIo();
        assertThat(off.verification().enabled()).isFalse();
    }

    @Test
    void appApiSettingsHaveDefaultsAndAreChecked() {
        Map<String, String> env = valid();
        env.put("CUSTOMERIO_APP_API_KEY", "app-key-value");
        env.put("CUSTOMERIO_REGION", "eu");
        Settings s = SettingsLoader.load(env, WORKER);
        Settings.Verification v = s.customerIo().verification();
        assertThat(v.enabled()).isTrue();
        assertThat(s.customerIo().appBaseUrl()).hasToString("https://api-eu.customer.io");
        assertThat(v.rateLimitPerSecond()).isEqualTo(10);
        assertThat(v.firstCheckAfter()).isEqualTo(java.time.Duration.ofMinutes(1));
        assertThat(v.deadline()).isEqualTo(java.time.Duration.ofHours(24));
        assertThat(s.describe()).contains("CUSTOMERIO_APP_API_KEY=[hidden]", "App API base URL=https://api-eu.customer.io",
                "ERASURE_VERIFY_DEADLINE=24h").doesNotContain("app-key-value");
        assertThat(s.kafka().verifyTopic()).isEqualTo("erasure.requests.verify");

        env.put("CUSTOMERIO_APP_URL", "http://localhost:9/");
        env.put("ERASURE_VERIFY_FIRST_AFTER", "30s");
        env.put("ERASURE_VERIFY_DEADLINE", "2h");
        Settings.Verification set = SettingsLoader.load(env, WORKER).customerIo().verification();
        assertThat(set.appUrl()).hasToString("http://localhost:9");
        assertThat(set.firstCheckAfter()).isEqualTo(java.time.Duration.ofSeconds(30));

        env.put("CUSTOMERIO_APP_URL", "ftp://x");
        env.put("CUSTOMERIO_APP_RATE_LIMIT_PER_SECOND", "0");
        env.put("ERASURE_VERIFY_FIRST_AFTER", "3h");
        env.put("CUSTOMERIO_APP_API_KEY_FILE", "/nowhere");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll("CUSTOMERIO_APP_URL: must be an absolute http(s) URL",
                "CUSTOMERIO_APP_RATE_LIMIT_PER_SECOND: 0 is out of range", "ERASURE_VERIFY_FIRST_AFTER: 3h is after ERASURE_VERIFY_DEADLINE",
                "CUSTOMERIO_APP_API_KEY: set either").hasMessageNotContaining("app-key-value");
    }

    /** The person an App API key must find before its 404s count: a customer id, never shown. */
    @Test
    void theAppApiControlPersonIsACustomerIdThatIsNeverShown() throws Exception {
        Map<String, String> env = valid();
        assertThat(SettingsLoader.load(env, WORKER).customerIo().verification().controlPersonId()).isNull();
        env.put("CUSTOMERIO_APP_CONTROL_PERSON_ID", "qa-seed-7");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContaining("CUSTOMERIO_APP_CONTROL_PERSON_ID: is set without"
                + " an App API key").hasMessageNotContaining("qa-seed-7");
        java.nio.file.Path key = java.nio.file.Files.createTempFile("app", ".key");
        java.nio.file.Files.writeString(key, "app-key-value");
        env.put("CUSTOMERIO_APP_API_KEY_FILE", key.toString());
        Settings s = SettingsLoader.load(env, WORKER);
        assertThat(s.customerIo().verification().controlPersonId().reveal()).isEqualTo("qa-seed-7");
        assertThat(s.describe()).contains("CUSTOMERIO_APP_CONTROL_PERSON_ID=[hidden]").doesNotContain("qa-seed-7");
        assertThat(s.toString()).doesNotContain("qa-seed-7");
        // invisible characters as an identifier of type id may not have them (a line separator, a noncharacter passed)
        for (String bad : new String[] {"jane@example.com", "cio_abc", " x", "a\u0000b", "a\u200bb", "a\u2028b", "a\uffffb"}) {
            env.put("CUSTOMERIO_APP_CONTROL_PERSON_ID", bad);
            assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContaining("CUSTOMERIO_APP_CONTROL_PERSON_ID: not a"
                    + " customer id: ").hasMessageNotContaining(bad.strip());
        }
        env.remove("CUSTOMERIO_APP_CONTROL_PERSON_ID");
        assertThat(SettingsLoader.load(env, WORKER).describe()).contains("CUSTOMERIO_APP_CONTROL_PERSON_ID=(not set: an App API key of"
                + " another workspace would verify everyone)");
    }

    @Test
    void euRegionAndUrlOverride() {
        Map<String, String> env = valid();
        env.put("CUSTOMERIO_REGION", "EU");
        assertThat(SettingsLoader.load(env, WORKER).customerIo().baseUrl()).hasToString("https://track-eu.customer.io");
        env.put("CUSTOMERIO_TRACK_URL", "http://localhost:8089/");
        assertThat(SettingsLoader.load(env, WORKER).customerIo().baseUrl()).hasToString("http://localhost:8089");
    }

    /** Any secret was taken, "x" too: with it, anyone who can reach the intake could sign a request to erase anybody. */
    @Test
    void aWebhookSecretShorterThanSixteenCharactersIsRefused() {
        Map<String, String> env = new HashMap<>(Map.of("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092", "AUDIT_SUBJECT_KEY", "k".repeat(32),
                "ERASURE_WEBHOOK_SECRET", "short-secret-15", "ERASURE_WEBHOOK_SECRET_PREVIOUS", "x"));
        EnumSet<Part> intake = EnumSet.of(Part.KAFKA, Part.AUDIT, Part.WEBHOOK);
        assertThatThrownBy(() -> SettingsLoader.load(env, intake)).hasMessageContainingAll(
                "ERASURE_WEBHOOK_SECRET: too short (at least 16 characters", "ERASURE_WEBHOOK_SECRET_PREVIOUS: too short")
                .hasMessageNotContaining("short-secret-15");
        env.put("ERASURE_WEBHOOK_SECRET", "sixteen-chars-ok");
        env.remove("ERASURE_WEBHOOK_SECRET_PREVIOUS");
        assertThat(SettingsLoader.load(env, intake).webhookSecrets()).hasSize(1);
    }

    /**
     * http:// to another machine sends the Track key (Basic auth) and the App API key (bearer) in
     * clear; it was taken without a word. It stays allowed (the compose sandbox, a private
     * network) and is warned about, by host only; this machine's sandbox is not.
     */
    @Test
    void aPlainHttpBaseUrlToAnotherMachineIsWarnedAbout() {
        Map<String, String> env = valid();
        assertThat(SettingsLoader.load(env, WORKER).plainHttpWarnings()).as("the region's https URLs").isEmpty();
        env.put("CUSTOMERIO_TRACK_URL", "http://track.customer.io");
        env.put("CUSTOMERIO_APP_API_KEY", "app-key-value");
        env.put("CUSTOMERIO_APP_URL", "http://10.0.0.7:8080");
        assertThat(SettingsLoader.load(env, WORKER).plainHttpWarnings()).containsExactly(
                "CUSTOMERIO_TRACK_URL is plain http:// to track.customer.io: the Track API key crosses the network unencrypted"
                        + " (use https://; http only for a sandbox on this machine or a private network)",
                "CUSTOMERIO_APP_URL is plain http:// to 10.0.0.7: the App API key crosses the network unencrypted"
                        + " (use https://; http only for a sandbox on this machine or a private network)");
        for (String local : new String[] {"http://localhost:8089", "http://127.0.0.1:8089", "http://[::1]:8089", "https://track.example.com"}) {
            env.put("CUSTOMERIO_TRACK_URL", local);
            env.put("CUSTOMERIO_APP_URL", local);
            assertThat(SettingsLoader.load(env, WORKER).plainHttpWarnings()).as(local).isEmpty();
        }
    }

    /**
     * A password in a base URL was printed as written (the start-up line, credentials verify),
     * and a query or fragment was put in front of every path (…/?t=x/api/v1/… : 404 for every call).
     */
    @Test
    void aBaseUrlWithCredentialsAQueryOrAFragmentIsRefusedWithoutBeingEchoed() {
        Map<String, String> env = valid();
        env.put("CUSTOMERIO_TRACK_URL", "https://proxy-user:url-secret-77@track.example.com");
        env.put("CUSTOMERIO_APP_API_KEY", "app-key-value");
        env.put("CUSTOMERIO_APP_URL", "https://api.example.com/?token=url-secret-78");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll(
                        "CUSTOMERIO_TRACK_URL: must not hold a user name or password (user:password@): the API keys authenticate",
                        "CUSTOMERIO_APP_URL: must be a base URL, without a ?query or #fragment")
                .hasMessageNotContainingAny("url-secret", "proxy-user");
        env.put("CUSTOMERIO_TRACK_URL", "https://track.example.com/#part");
        env.remove("CUSTOMERIO_APP_URL");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContaining(
                "CUSTOMERIO_TRACK_URL: must be a base URL, without a ?query or #fragment");
    }

    @Test
    void reportsEveryProblemAtOnceNamingEachVariable() {
        Map<String, String> env = new HashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", "no-port");
        env.put("DATABASE_URL", "mysql://x");
        env.put("CUSTOMERIO_REGION", "mars");
        env.put("CUSTOMERIO_RATE_LIMIT_PER_SECOND", "fast");
        env.put("METRICS_PORT", "70000");
        env.put("AUDIT_SUBJECT_KEY", "tiny-k3y");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER))
                .isInstanceOf(ConfigException.class)
                .satisfies(e -> {
                    ConfigException c = (ConfigException) e;
                    assertThat(c.problems()).hasSize(10);
                    assertThat(c.getMessage()).contains("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "DATABASE_USER",
                            "DATABASE_PASSWORD", "CUSTOMERIO_SITE_ID", "CUSTOMERIO_TRACK_API_KEY", "CUSTOMERIO_REGION",
                            "CUSTOMERIO_RATE_LIMIT_PER_SECOND", "METRICS_PORT", "AUDIT_SUBJECT_KEY");
                    assertThat(c.getMessage()).doesNotContain("tiny-k3y");
                    // the same settings serve the worker, audit and migrate: the hint names each one's role
                    assertThat(c.getMessage()).contains("DATABASE_USER: missing (the database role to log in as: a member of"
                            + " cio_erasure_writer for the worker, of cio_erasure_auditor for audit, one that may create tables for migrate)");
                });
    }

    @Test
    void secretsComeFromFilesAndAreNeverPrinted(@TempDir Path dir) throws Exception {
        Path key = dir.resolve("track_key");
        Files.writeString(key, "file-key-value\n");
        Map<String, String> env = valid();
        env.remove("CUSTOMERIO_TRACK_API_KEY");
        env.put("CUSTOMERIO_TRACK_API_KEY_FILE", key.toString());
        Settings s = SettingsLoader.load(env, WORKER);
        assertThat(s.customerIo().apiKey().reveal()).isEqualTo("file-key-value");
        String described = s.describe() + s + s.customerIo() + s.database();
        assertThat(described).doesNotContain("file-key-value", "db-password-value", "audit-key-value").contains("[hidden]");
    }

    @Test
    void aSecretGivenTwiceOrAsAMissingFileIsAnError(@TempDir Path dir) {
        Map<String, String> env = valid();
        env.put("CUSTOMERIO_TRACK_API_KEY_FILE", dir.resolve("nope").toString());
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER))
                .hasMessageContaining("set either CUSTOMERIO_TRACK_API_KEY or CUSTOMERIO_TRACK_API_KEY_FILE");
        env.remove("CUSTOMERIO_TRACK_API_KEY");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER))
                .hasMessageContaining("CUSTOMERIO_TRACK_API_KEY_FILE").hasMessageContaining("not a readable file");
    }

    /**
     * A setting pointed at the wrong file (a log, a disk image) was read whole: the command ended
     * "out of memory" instead of naming the setting. Files larger than their kind ever is are
     * refused after one byte more than the limit, each named with its setting (SmallFiles).
     */
    @Test
    void aSecretOrClientFileLargerThanAnySuchFileIsRefusedByItsSetting(@TempDir Path dir) throws Exception {
        Path key = java.nio.file.Files.write(dir.resolve("track.key"), new byte[SmallFiles.KEY_BYTES + 1]);
        Path client = java.nio.file.Files.write(dir.resolve("client.properties"), new byte[1024 * 1024 + 1]);
        Map<String, String> env = valid();
        env.remove("CUSTOMERIO_TRACK_API_KEY");
        env.put("CUSTOMERIO_TRACK_API_KEY_FILE", key.toString());
        env.put("KAFKA_CLIENT_CONFIG_FILE", client.toString());
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContainingAll(
                "CUSTOMERIO_TRACK_API_KEY_FILE: '" + key + "' is larger than 65,536 bytes, which no such file is",
                "KAFKA_CLIENT_CONFIG_FILE: '" + client + "' is larger than 1,048,576 bytes, which no such file is");
        java.nio.file.Files.write(key, new byte[SmallFiles.KEY_BYTES]); // at the limit: read, then judged as a key
        java.nio.file.Files.writeString(client, "request.timeout.ms=30000\n");
        assertThat(SettingsLoader.load(env, WORKER).customerIo().apiKey().reveal()).hasSize(SmallFiles.KEY_BYTES);
    }

    @Test
    void onlyTheAskedForPartsAreValidated() {
        Map<String, String> env = Map.of("DATABASE_URL", "jdbc:postgresql://db/x", "DATABASE_USER", "u", "DATABASE_PASSWORD", "p");
        Settings s = SettingsLoader.load(env, EnumSet.of(Part.DATABASE));
        assertThat(s.database().user()).isEqualTo("u");
        assertThat(s.kafka()).isNull();
    }

    @Test
    void passwordsInsideDatabaseUrlNeverReachTheStartUpLine() {
        Map<String, String> env = valid();
        env.put("DATABASE_URL", "jdbc:postgresql://db:5432/erasure?ssl=true&sslpassword=pw-ssl");
        String described = SettingsLoader.load(env, WORKER).describe();
        assertThat(described).doesNotContain("pw-ssl", "db-password-value", "track-key-value", "audit-key-value");
        assertThat(described).contains("jdbc:postgresql://db:5432/erasure?ssl=true&sslpassword=***");
    }

    @Test
    void theStartUpLineSaysWhereEachSecretCameFrom(@TempDir Path dir) throws Exception {
        Path key = dir.resolve("track-key");
        Files.writeString(key, "file-key-value\n");
        Map<String, String> env = valid();
        env.remove("CUSTOMERIO_TRACK_API_KEY");
        env.put("CUSTOMERIO_TRACK_API_KEY_FILE", key.toString());
        String described = SettingsLoader.load(env, WORKER).describe();
        assertThat(described).contains("CUSTOMERIO_TRACK_API_KEY=[hidden] (file " + key + ")")
                .contains("DATABASE_PASSWORD=[hidden] (env DATABASE_PASSWORD)")
                .doesNotContain("file-key-value");
        // the intake's two secrets, each on its line under its own name (it printed one list: "=[[hidden] (env …), …]")
        Path previous = dir.resolve("previous-secret");
        Files.writeString(previous, "previous-secret-value-0123\n");
        env.put("ERASURE_WEBHOOK_SECRET", "current-secret-value-0123");
        env.put("ERASURE_WEBHOOK_SECRET_PREVIOUS_FILE", previous.toString());
        String intake = SettingsLoader.load(env, EnumSet.of(Part.KAFKA, Part.AUDIT, Part.WEBHOOK)).describe();
        assertThat(intake).contains("\n  ERASURE_WEBHOOK_SECRET=[hidden] (env ERASURE_WEBHOOK_SECRET)\n")
                .contains("\n  ERASURE_WEBHOOK_SECRET_PREVIOUS=[hidden] (file " + previous + ")")
                .doesNotContain("[[").doesNotContain("secret-value");
    }

    @Test
    void aSecretPastedIntoAFileVariableIsNotEchoed(@TempDir Path dir) {
        Map<String, String> env = valid();
        env.remove("DATABASE_PASSWORD");
        env.put("DATABASE_PASSWORD_FILE", "s3cr3t-Pasted+By/Mistake==");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER))
                .hasMessageContaining("DATABASE_PASSWORD_FILE")
                .hasMessageContaining("not shown")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cr3t", "Pasted"));
        env.put("DATABASE_PASSWORD_FILE", "plainsecretwithoutslash");
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).satisfies(e -> assertThat(e.getMessage()).doesNotContain("plainsecret"));
        // a real path that is missing is shown, so the operator can fix the mount
        env.put("DATABASE_PASSWORD_FILE", dir.resolve("missing").toString());
        assertThatThrownBy(() -> SettingsLoader.load(env, WORKER)).hasMessageContaining(dir.resolve("missing").toString());
    }
}
