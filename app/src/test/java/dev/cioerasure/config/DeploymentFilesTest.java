package dev.cioerasure.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docker-compose.yml cannot be run here (no Docker engine), so its structure is checked: the
 * services exist, every secret is declared and its file present, every setting it passes to our
 * services is one the documented configuration knows, and the image runs as a non-root user.
 */
class DeploymentFilesTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private static Set<String> documentedSettings() throws Exception {
        Set<String> names = new HashSet<>();
        Matcher m = Pattern.compile("(?m)^#?\\s*([A-Z][A-Z0-9_]+)=").matcher(Files.readString(Path.of("config", "cio-erasure.env.example")));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void composeWiresTheWholeStackWithSecretsAndKnownSettings() throws Exception {
        JsonNode compose = YAML.readTree(Path.of("docker-compose.yml").toFile());
        JsonNode services = compose.get("services");
        for (String s : new String[] {"kafka", "postgres", "migrate", "worker", "intake", "sandbox", "prometheus", "grafana"}) {
            assertThat(services.has(s)).as("service %s", s).isTrue();
        }
        assertThat(services.get("kafka").get("image").asText()).startsWith("apache/kafka:4.3.");
        // Kafka's data lives on the volume, or recreating the container loses offsets, the DLQ and the retry topic
        JsonNode kafka = services.get("kafka");
        String dataDir = kafka.get("environment").get("KAFKA_LOG_DIRS").asText();
        assertThat(kafka.get("volumes").get(0).asText()).endsWith(":" + dataDir);
        // every image is pinned to a full version: no floating major or minor tags
        services.fields().forEachRemaining(e -> {
            if (e.getValue().has("image")) {
                assertThat(e.getValue().get("image").asText()).as(e.getKey()).matches("[\\w./-]+:v?\\d+\\.\\d+(\\.\\d+)?([_-][\\w.]+)?");
            }
        });
        Files.readAllLines(Path.of("Dockerfile")).stream().filter(l -> l.startsWith("FROM ") && l.contains(":")).forEach(l ->
                assertThat(l).as("Dockerfile base image pinned").matches("FROM [\\w./-]+:\\d+\\.\\d+\\.\\d+[\\w.-]*( AS \\w+)?"));
        JsonNode secrets = compose.get("secrets");
        secrets.fields().forEachRemaining(e -> assertThat(Path.of(e.getValue().get("file").asText())).as("secret file").exists());

        Set<String> documented = documentedSettings();
        assertThat(documented).contains("KAFKA_BOOTSTRAP_SERVERS", "CUSTOMERIO_TRACK_API_KEY", "AUDIT_SUBJECT_KEY");
        for (String name : new String[] {"migrate", "worker", "intake", "sandbox"}) {
            JsonNode svc = services.get(name);
            JsonNode build = svc.get("build");
            if (name.equals("sandbox")) {
                // a dev tool: built from the image's tools target, not the production jar
                assertThat(build.get("context").asText()).isEqualTo(".");
                assertThat(build.get("target").asText()).isEqualTo("tools");
            } else {
                assertThat(build.asText()).isEqualTo(".");
            }
            Set<String> declared = new HashSet<>();
            svc.path("secrets").forEach(n -> declared.add(n.asText()));
            for (Iterator<Map.Entry<String, JsonNode>> it = svc.get("environment").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                if (key.equals("<<")) {
                    continue;
                }
                String base = key.endsWith("_FILE") ? key.substring(0, key.length() - 5) : key;
                assertThat(documented).as("%s sets %s, which config/cio-erasure.env.example does not document", name, key).contains(base);
                if (key.endsWith("_FILE")) {
                    String secret = e.getValue().asText().replace("/run/secrets/", "");
                    assertThat(declared).as("%s reads secret %s", name, secret).contains(secret);
                    assertThat(secrets.has(secret)).isTrue();
                }
            }
        }
        // the anchor shared by worker and intake
        JsonNode shared = services.get("worker").get("environment");
        assertThat(shared.has("<<") || shared.has("KAFKA_BOOTSTRAP_SERVERS")).isTrue();
    }

    @Test
    void theImageBuildsEveryModule() throws Exception {
        // a module the build stage does not copy fails `docker build` (the reactor cannot find it)
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        java.util.regex.Matcher module = Pattern.compile("<module>([\\w-]+)</module>").matcher(Files.readString(Path.of("pom.xml")));
        int modules = 0;
        while (module.find()) {
            modules++;
            assertThat(dockerfile).contains("COPY " + module.group(1) + " " + module.group(1) + "\n");
        }
        assertThat(modules).isEqualTo(4);
    }

    @Test
    void theImageRunsAsANonRootUserWithAHealthCheck() throws Exception {
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        // the default (last) stage ships the production jar, never the tools jar
        String last = dockerfile.substring(dockerfile.lastIndexOf("\nFROM "));
        assertThat(last).contains("COPY --from=build /src/app/target/cio-erasure.jar /app/cio-erasure.jar").doesNotContain("tools");
        assertThat(dockerfile).containsPattern("(?m)^USER (?!root)\\S+").contains("HEALTHCHECK").contains("/health/ready");
    }

    /**
     * The image set -XX:+ExitOnOutOfMemoryError for every command, so the JVM's exit code 3 for an
     * out-of-memory error reached `audit verify`, whose 3 means a tampered audit table. The entry
     * point gives the flag to the intake only (run here with a stand-in java that records its
     * arguments); the worker handles a record that expands beyond its heap itself.
     */
    @Test
    void theImageStopsOnlyTheIntakeAtOnceWhenOutOfMemory(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path args = dir.resolve("args");
        Path java = Files.writeString(dir.resolve("java"), "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGS_OUT\"\n");
        assertThat(java.toFile().setExecutable(true)).isTrue();
        Map<String, List<String>> seen = new java.util.LinkedHashMap<>();
        for (String command : new String[] {"worker", "intake", "audit", "migrate", "submit"}) {
            ProcessBuilder pb = new ProcessBuilder("sh", "scripts/image-entrypoint.sh", command, "--help").redirectErrorStream(true);
            pb.environment().put("PATH", dir + ":" + System.getenv("PATH"));
            pb.environment().put("ARGS_OUT", args.toString());
            pb.environment().put("JAVA_OPTS", "-Xmx256m -Dsun.net.httpserver.maxReqTime=5");
            pb.environment().remove("CIO_ERASURE_JAR");
            Process p = pb.start();
            assertThat(p.waitFor()).as(new String(p.getInputStream().readAllBytes())).isZero();
            seen.put(command, Files.readAllLines(args));
        }
        List<String> options = List.of("-Xmx256m", "-Dsun.net.httpserver.maxReqTime=5");
        assertThat(seen.get("intake")).containsExactlyElementsOf(concat(options,
                List.of("-XX:+ExitOnOutOfMemoryError", "-jar", "/app/cio-erasure.jar", "intake", "--help")));
        // the worker rejects a record that expands beyond its heap (HostileRecordsIT): with the flag it exited at every start
        for (String command : new String[] {"worker", "audit", "migrate", "submit"}) {
            assertThat(seen.get(command)).containsExactlyElementsOf(concat(options, List.of("-jar", "/app/cio-erasure.jar", command, "--help")));
        }
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        assertThat(dockerfile).contains("COPY --chmod=0755 scripts/image-entrypoint.sh /app/run", "ENTRYPOINT [\"/app/run\"]",
                "ENV JAVA_OPTS=\"-Xmx256m\"").doesNotContain("ExitOnOutOfMemoryError\"");
        assertThat(dockerfile).doesNotContainPattern("(?m)^ENV JAVA_TOOL_OPTIONS");
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @Test
    void prometheusLoadsTheShippedAlertRules() throws Exception {
        JsonNode prom = YAML.readTree(Path.of("config", "prometheus", "prometheus.yml").toFile());
        assertThat(prom.get("rule_files").get(0).asText()).endsWith("alerts.yml");
        assertThat(prom.get("global").get("external_labels").get("runbook_base").asText()).startsWith("https://");
        JsonNode alerts = YAML.readTree(Path.of("config", "prometheus", "alerts.yml").toFile());
        Set<String> names = new HashSet<>();
        alerts.get("groups").forEach(g -> g.get("rules").forEach(r -> {
            names.add(r.get("alert").asText());
            assertThat(r.get("expr").asText()).isNotBlank();
            assertThat(r.get("annotations").get("runbook_url").asText())
                    .isEqualTo("{{ $externalLabels.runbook_base }}/operations.md#" + r.get("alert").asText().toLowerCase());
        }));
        assertThat(names).contains("ErasureWorkerDown", "ErasureNoWorker", "ErasureIntakeDown", "ErasureMonitoringBlind",
                "ErasureRequestOverdue", "ErasureOldestOpenRequestAgeing", "ErasureCredentialsOld", "ErasureCredentialsRejected");
        String ops = Files.readString(Path.of("docs", "operations.md")).toLowerCase();
        for (String alert : names) {
            assertThat(ops).as("docs/operations.md explains %s", alert).contains("### " + alert.toLowerCase());
        }
    }

    @Test
    void environmentFilesAndDemoSecretsStayOutOfGitAndTheImage() throws Exception {
        List<String> git = Files.readAllLines(Path.of(".gitignore"));
        assertThat(git).contains(".env", ".env.*", "*.env", "!config/cio-erasure.env.example");
        List<String> docker = Files.readAllLines(Path.of(".dockerignore"));
        assertThat(docker).contains(".env", ".env.*", "*.env", "config/compose-secrets");
        assertThat(Files.readString(Path.of("Dockerfile"))).doesNotContain("COPY config").doesNotContain("COPY . ");
    }

    @Test
    void composeCreatesTheAuditorLoginThatTheAuditingGuideNames() throws Exception {
        String roles = Files.readString(Path.of("config", "postgres", "init-roles.sql"));
        Matcher guide = Pattern.compile("CREATE ROLE (\\w+) LOGIN PASSWORD '…' IN ROLE cio_erasure_auditor")
                .matcher(Files.readString(Path.of("docs", "auditing.md")));
        assertThat(guide.find()).as("docs/auditing.md names an auditor login").isTrue();
        assertThat(roles).containsPattern("CREATE ROLE " + guide.group(1) + " LOGIN PASSWORD \\S+ IN ROLE cio_erasure_auditor");
        JsonNode postgres = YAML.readTree(Path.of("docker-compose.yml").toFile()).get("services").get("postgres");
        Set<String> declared = new HashSet<>();
        postgres.path("secrets").forEach(n -> declared.add(n.asText()));
        assertThat(declared).contains("worker_password", "auditor_password");
    }

    @Test
    void theDashboardPicksItsDataSourceAndFiltersByJobAndInstance() throws Exception {
        JsonNode dash = new ObjectMapper().readTree(Path.of("config", "grafana", "dashboards", "cio-erasure.json").toFile());
        Set<String> variables = new HashSet<>();
        dash.get("templating").get("list").forEach(v -> variables.add(v.get("name").asText()));
        assertThat(variables).contains("datasource", "job", "instance");
        assertThat(dash.toString()).doesNotContain("\"uid\":\"prometheus\"");
        int exprs = 0;
        for (JsonNode panel : dash.get("panels")) {
            assertThat(panel.get("datasource").get("uid").asText()).isEqualTo("${datasource}");
            for (JsonNode t : panel.path("targets")) {
                String expr = t.get("expr").asText();
                Matcher m = Pattern.compile("\\b(?:erasure|resilience4j|kafka)_[a-z0-9_]+(\\{[^}]*\\})?").matcher(expr);
                while (m.find()) {
                    exprs++;
                    assertThat(m.group()).as(expr).contains("job=~\"$job\"", "instance=~\"$instance\"");
                }
            }
        }
        assertThat(exprs).isGreaterThan(20);
    }
}
