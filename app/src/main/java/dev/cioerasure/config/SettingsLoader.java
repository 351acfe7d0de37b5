package dev.cioerasure.config;

import java.io.IOException;
import java.io.Reader;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiPredicate;

/**
 * Builds {@link Settings} from the environment. Every secret may also be given as
 * {@code <NAME>_FILE}. All problems are collected and reported together in one
 * {@link ConfigException}, each naming the variable and what is wrong.
 */
public final class SettingsLoader {

    /** The groups of settings a command needs; groups not asked for are not validated. */
    public enum Part { KAFKA, DATABASE, CUSTOMERIO, AUDIT, WORKER, WEBHOOK }

    private static final int MAX_PORT = 65535;

    private final Map<String, String> env;
    private final List<String> problems = new ArrayList<>();

    private SettingsLoader(Map<String, String> env) {
        this.env = env;
    }

    public static Settings load(Map<String, String> env, Set<Part> parts) {
        SettingsLoader l = new SettingsLoader(env);
        EnumSet<Part> p = parts.isEmpty() ? EnumSet.noneOf(Part.class) : EnumSet.copyOf(parts);
        List<Settings.Workspace> workspaces = p.contains(Part.CUSTOMERIO) ? l.workspaces() : List.of();
        Settings s = new Settings(
                p.contains(Part.KAFKA) ? l.kafka() : null,
                p.contains(Part.DATABASE) ? l.database() : null,
                workspaces.isEmpty() ? null : workspaces.get(0).customerIo(),
                p.contains(Part.AUDIT) ? l.audit() : null,
                p.contains(Part.WORKER) ? l.worker() : null,
                p.contains(Part.WEBHOOK) ? l.webhook() : List.of(),
                workspaces);
        if (s.kafka() != null) {
            l.topicsHaveOnePurpose(s);
        }
        if (!l.problems.isEmpty()) {
            throw new ConfigException(l.problems);
        }
        return s;
    }

    /**
     * The topics cio-erasure writes events to are none of those it reads: outcome events on the
     * request topic would be read as requests, rejected, and announced again, without end.
     */
    private void topicsHaveOnePurpose(Settings s) {
        Settings.Kafka k = s.kafka();
        Map<String, String> read = new java.util.LinkedHashMap<>();
        read.put(k.topic(), "the request topic (ERASURE_TOPIC)");
        read.put(k.retryTopic(), "the retry topic");
        read.put(k.dlqTopic(), "the dead-letter topic");
        read.put(k.verifyTopic(), "the verification topic");
        if (k.outcomesTopic() != null) {
            String other = read.get(k.outcomesTopic());
            if (other != null) {
                problems.add("ERASURE_OUTCOMES_TOPIC: '" + k.outcomesTopic() + "' is also " + other + "; give each topic one purpose");
            }
            read.put(k.outcomesTopic(), "the outcomes topic (ERASURE_OUTCOMES_TOPIC)");
        }
        Settings.Checkpoints c = s.audit() == null ? null : s.audit().checkpoints();
        if (c != null && c.enabled() && c.topic() != null && read.containsKey(c.topic())) {
            problems.add("AUDIT_CHECKPOINT_TOPIC: '" + c.topic() + "' is also " + read.get(c.topic()) + "; give each topic one purpose");
        }
    }

    private Settings.Kafka kafka() {
        String servers = required("KAFKA_BOOTSTRAP_SERVERS", "a comma-separated list of host:port");
        if (servers != null) {
            // -1: a trailing comma passed here, and Kafka's client then refused the list as a whole
            for (String hp : servers.split(",", -1)) {
                String t = hp.trim();
                int colon = t.lastIndexOf(':');
                if (t.isEmpty()) {
                    problems.add("KAFKA_BOOTSTRAP_SERVERS: an empty entry between commas in '" + servers.trim() + "'");
                } else if (colon <= 0 || parsePort(t.substring(colon + 1)) < 0) {
                    problems.add("KAFKA_BOOTSTRAP_SERVERS: '" + t + "' is not host:port");
                }
            }
        }
        String topic = topicName("ERASURE_TOPIC", "erasure.requests");
        String group = optional("ERASURE_GROUP_ID", "cio-erasure");
        String outcomes = optional("ERASURE_OUTCOMES_TOPIC", Settings.Kafka.DEFAULT_OUTCOMES_TOPIC);
        if (outcomes.equals("none")) {
            outcomes = null;
        } else {
            topicName("ERASURE_OUTCOMES_TOPIC", outcomes);
        }
        return new Settings.Kafka(servers, topic, group, kafkaClient(), outcomes);
    }

    private static final List<String> SECURITY_PROTOCOLS = List.of("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL");
    /** Mechanisms KAFKA_SASL_USERNAME/PASSWORD can build a JAAS line for, with their login module. */
    private static final Map<String, String> LOGIN_MODULES = Map.of(
            "PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule",
            "SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule",
            "SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule");
    /** Set by the program for each client; an operator's value would break a guarantee (offsets, ordering, acks). */
    private static final Set<String> RESERVED_CLIENT_PROPERTIES = Set.of("bootstrap.servers", "group.id", "group.instance.id",
            "client.id", "enable.auto.commit", "auto.offset.reset", "max.poll.records", "key.serializer", "value.serializer",
            "key.deserializer", "value.deserializer", "acks", "enable.idempotence", "transactional.id", "isolation.level");
    private static final String CLIENT_PREFIX = "KAFKA_CLIENT_";
    private static final String CLIENT_FILE = "KAFKA_CLIENT_CONFIG_FILE";
    /** A client properties file or a workspaces file: a few dozen lines, far below this. */
    private static final int CLIENT_FILE_BYTES = 1024 * 1024;

    /**
     * TLS and SASL from named variables, then any client property from KAFKA_CLIENT_CONFIG_FILE (a
     * properties file) or KAFKA_CLIENT_&lt;NAME&gt; (NAME upper-cased, dots as underscores). A
     * property given twice, or one the program sets itself, is a configuration error.
     */
    private KafkaClientConfig kafkaClient() {
        Map<String, String> plain = new TreeMap<>();
        Map<String, Secret> secret = new TreeMap<>();
        Map<String, String> setBy = new HashMap<>();
        BiPredicate<String, String> claim = (property, variable) -> {
            String earlier = setBy.putIfAbsent(property, variable);
            if (earlier != null) {
                problems.add(variable + ": sets " + property + ", which " + earlier + " already sets; set it once");
                return false;
            }
            if (RESERVED_CLIENT_PROPERTIES.contains(property)) {
                problems.add(variable + ": " + property + " is set by cio-erasure itself and cannot be overridden");
                return false;
            }
            return true;
        };
        String protocol = optional("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").toUpperCase(Locale.ROOT);
        if (!SECURITY_PROTOCOLS.contains(protocol)) {
            problems.add("KAFKA_SECURITY_PROTOCOL: must be one of " + String.join(", ", SECURITY_PROTOCOLS));
        } else if (!protocol.equals("PLAINTEXT") && claim.test("security.protocol", "KAFKA_SECURITY_PROTOCOL")) {
            plain.put("security.protocol", protocol);
        }
        boolean sasl = protocol.startsWith("SASL_");
        String mechanism = optional("KAFKA_SASL_MECHANISM", null);
        String user = optional("KAFKA_SASL_USERNAME", null);
        Secret password = secret("KAFKA_SASL_PASSWORD", false);
        Secret jaas = secret("KAFKA_SASL_JAAS_CONFIG", false);
        if (!sasl && (mechanism != null || user != null || password != null || jaas != null)) {
            problems.add("KAFKA_SASL_*: set, but KAFKA_SECURITY_PROTOCOL is " + protocol + " (use SASL_SSL or SASL_PLAINTEXT)");
        } else if (sasl) {
            if (mechanism == null) {
                problems.add("KAFKA_SASL_MECHANISM: missing (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, ...), needed with "
                        + protocol);
            } else if (claim.test("sasl.mechanism", "KAFKA_SASL_MECHANISM")) {
                mechanism = mechanism.toUpperCase(Locale.ROOT);
                plain.put("sasl.mechanism", mechanism);
            }
            if (jaas != null && (user != null || password != null)) {
                problems.add("KAFKA_SASL_JAAS_CONFIG: set either it or KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, not both");
            } else if (jaas != null) {
                if (claim.test("sasl.jaas.config", "KAFKA_SASL_JAAS_CONFIG")) {
                    secret.put("sasl.jaas.config", jaas);
                }
            } else if (user != null || password != null) {
                if (user == null || password == null) {
                    problems.add("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: set both (or KAFKA_SASL_JAAS_CONFIG)");
                } else if (mechanism != null && !LOGIN_MODULES.containsKey(mechanism)) {
                    problems.add("KAFKA_SASL_USERNAME: works with " + String.join(", ", new TreeSet<>(LOGIN_MODULES.keySet()))
                            + "; for " + mechanism + " set KAFKA_SASL_JAAS_CONFIG");
                } else if (mechanism != null && claim.test("sasl.jaas.config", "KAFKA_SASL_USERNAME")) {
                    String module = LOGIN_MODULES.get(mechanism);
                    String quotedUser = jaasQuoted(user);
                    secret.put("sasl.jaas.config", password.derive(pw ->
                            module + " required username=" + quotedUser + " password=" + jaasQuoted(pw) + ";"));
                }
            }
        }
        for (String store : List.of("TRUSTSTORE", "KEYSTORE")) {
            String kafkaName = "ssl." + store.toLowerCase(Locale.ROOT);
            String location = optional("KAFKA_SSL_" + store + "_LOCATION", null);
            if (location != null) {
                if (!Files.isRegularFile(Path.of(location)) || !Files.isReadable(Path.of(location))) {
                    problems.add("KAFKA_SSL_" + store + "_LOCATION: " + Redact.filePath(location) + " is not a readable file");
                } else if (claim.test(kafkaName + ".location", "KAFKA_SSL_" + store + "_LOCATION")) {
                    plain.put(kafkaName + ".location", location);
                }
            }
            String type = optional("KAFKA_SSL_" + store + "_TYPE", null);
            if (type != null && claim.test(kafkaName + ".type", "KAFKA_SSL_" + store + "_TYPE")) {
                plain.put(kafkaName + ".type", type);
            }
            Secret pw = secret("KAFKA_SSL_" + store + "_PASSWORD", false);
            if (pw != null && claim.test(kafkaName + ".password", "KAFKA_SSL_" + store + "_PASSWORD")) {
                secret.put(kafkaName + ".password", pw);
            }
        }
        Secret keyPassword = secret("KAFKA_SSL_KEY_PASSWORD", false);
        if (keyPassword != null && claim.test("ssl.key.password", "KAFKA_SSL_KEY_PASSWORD")) {
            secret.put("ssl.key.password", keyPassword);
        }
        String file = optional(CLIENT_FILE, null);
        if (file != null) {
            Path path = Path.of(file);
            Set<String> twice = new TreeSet<>();
            Properties fromFile = new Properties() {
                @Override
                public synchronized Object put(Object key, Object value) {
                    // "set once" holds inside the file too: load() would keep the last line silently
                    if (containsKey(key)) {
                        twice.add(String.valueOf(key));
                    }
                    return super.put(key, value);
                }
            };
            try (Reader r = new java.io.StringReader(SmallFiles.readString(path, CLIENT_FILE_BYTES, StandardCharsets.UTF_8))) {
                fromFile.load(r);
                twice.forEach(name -> problems.add(CLIENT_FILE + ": sets " + name + " more than once; set it once"));
                for (String name : new TreeSet<>(fromFile.stringPropertyNames())) {
                    if (claim.test(name, CLIENT_FILE + " (" + name + ")")) {
                        secret.put(name, Secret.of(CLIENT_FILE, fromFile.getProperty(name).trim()));
                    }
                }
            } catch (SmallFiles.TooLarge e) {
                problems.add(CLIENT_FILE + ": " + Redact.filePath(file) + " is " + e.getMessage());
            } catch (IOException | IllegalArgumentException e) {
                problems.add(CLIENT_FILE + ": " + Redact.filePath(file) + " is not a readable properties file");
            }
        }
        for (String variable : new TreeSet<>(env.keySet())) {
            if (variable.startsWith(CLIENT_PREFIX) && !variable.equals(CLIENT_FILE) && variable.length() > CLIENT_PREFIX.length()) {
                String name = variable.substring(CLIENT_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.');
                if (claim.test(name, variable)) {
                    secret.put(name, Secret.of(variable, env.get(variable)));
                }
            }
        }
        int beforeValues = problems.size();
        plain.forEach((name, value) -> KafkaClientValues.problem(name, value)
                .ifPresent(why -> problems.add(setBy.get(name) + ": " + why)));
        secret.forEach((name, value) -> KafkaClientValues.problem(name, value.reveal())
                .ifPresent(why -> problems.add(setBy.get(name) + ": " + why)));
        KafkaClientConfig config = new KafkaClientConfig(plain, secret);
        if (problems.size() == beforeValues && !setBy.isEmpty()) {
            KafkaClientValues.together(config.revealed(), secret.values().stream().map(Secret::reveal).toList()).ifPresent(why -> {
                // the variables whose properties Kafka's message names; all of them if it names none
                Set<String> named = new TreeSet<>();
                setBy.forEach((property, variable) -> {
                    if (why.contains(property)) {
                        named.add(variable);
                    }
                });
                problems.add(String.join(", ", named.isEmpty() ? new TreeSet<>(setBy.values()) : named)
                        + ": Kafka refuses these client properties together (" + why + ")");
            });
        }
        return config;
    }

    /** A JAAS option value: double-quoted, with backslashes and quotes escaped. */
    private static String jaasQuoted(String v) {
        return '"' + v.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    private Settings.Database database() {
        String url = required("DATABASE_URL", "a JDBC URL such as jdbc:postgresql://db:5432/erasure");
        if (url != null && !url.startsWith("jdbc:postgresql://")) {
            problems.add("DATABASE_URL: must start with jdbc:postgresql:// (got a URL with another scheme)");
        } else if (url != null && namesNoHost(url)) {
            // the driver then tries localhost:5432, and a worker waited there for a database that was
            // never meant (jdbc:postgresql://${DB_HOST}/erasure with DB_HOST unset, say)
            problems.add("DATABASE_URL: names no host (jdbc:postgresql://HOST[:PORT]/DATABASE); the driver would try localhost:5432");
        } else if (url != null && setsSchema(url)) {
            // every connection sets search_path = public, pg_temp (a schema named like the login must
            // not shadow the audit table), so the tables went to public while the operator meant another
            problems.add("DATABASE_URL: names a schema (currentSchema, or search_path in options); cio-erasure's tables live in"
                    + " schema public of the database the URL names: give it a database of its own instead");
        } else if (url != null && loginInUrl(url) != null) {
            // The driver lets the URL's parameter override DATABASE_USER/DATABASE_PASSWORD: a worker
            // logged in as another role than the one its messages named (and a rotated password
            // file was never read). user:password@ it does not read at all: it took them for part of
            // the host name, and the error named the host without them ("unknown host in db:5432").
            problems.add("DATABASE_URL: " + loginInUrl(url) + ": leave the login out of the URL and set DATABASE_USER and"
                    + " DATABASE_PASSWORD (or DATABASE_PASSWORD_FILE)");
        }
        String user = required("DATABASE_USER", "the database role to log in as: a member of cio_erasure_writer for the worker, of"
                + " cio_erasure_auditor for audit, one that may create tables for migrate");
        Secret password = secret("DATABASE_PASSWORD", true);
        int pool = intInRange("DATABASE_POOL_SIZE", 8, 1, 100);
        return new Settings.Database(url, user, password, pool);
    }

    /** How the URL carries a login (never its value), as the driver reads it; null when it carries none. */
    static String loginInUrl(String url) {
        if (hostList(url).contains("@")) {
            return "holds a user name or password before the host (user:password@host), which the PostgreSQL driver does not read";
        }
        java.util.Properties p = org.postgresql.Driver.parseURL(url, new java.util.Properties());
        if (p == null) {
            return null; // the driver's own error, at the first connection, names it
        }
        String parameter = p.getProperty("user") != null ? "user" : p.getProperty("password") != null ? "password" : null;
        return parameter == null ? null : "sets the parameter " + parameter + ", which would override DATABASE_USER and DATABASE_PASSWORD";
    }

    /** Whether the URL asks for a schema search path, as the driver reads its parameters. */
    static boolean setsSchema(String url) {
        java.util.Properties p = org.postgresql.Driver.parseURL(url, new java.util.Properties());
        if (p == null) {
            return false; // the driver's own error, at the first connection, names it
        }
        String options = p.getProperty("options", "");
        return p.getProperty("currentSchema") != null || options.toLowerCase(java.util.Locale.ROOT).contains("search_path");
    }

    /** Whether a jdbc:postgresql:// URL's host list is empty, or one of its hosts is (":5432", "a,"). */
    static boolean namesNoHost(String url) {
        for (String host : hostList(url).split(",", -1)) {
            if (host.isBlank() || host.startsWith(":")) {
                return true;
            }
        }
        return false;
    }

    /** What a jdbc:postgresql:// URL names before its database, parameters or properties: {@code host[:port][,host[:port]]…}. */
    private static String hostList(String url) {
        String rest = url.substring("jdbc:postgresql://".length());
        int end = rest.length();
        for (char c : new char[] {'/', '?', ';'}) {
            int i = rest.indexOf(c);
            if (i >= 0) {
                end = Math.min(end, i);
            }
        }
        return rest.substring(0, end);
    }

    static final String WORKSPACES_FILE = "CUSTOMERIO_WORKSPACES_FILE";

    /**
     * A workspace file's keys and the variables they stand for: each workspace is validated by the
     * same rules as the single workspace's variables, and problems name the file's keys.
     */
    private static final Map<String, String> WORKSPACE_KEYS = new java.util.LinkedHashMap<>();

    static {
        WORKSPACE_KEYS.put("site_id", "CUSTOMERIO_SITE_ID");
        WORKSPACE_KEYS.put("track_api_key_file", "CUSTOMERIO_TRACK_API_KEY_FILE");
        WORKSPACE_KEYS.put("region", "CUSTOMERIO_REGION");
        WORKSPACE_KEYS.put("track_url", "CUSTOMERIO_TRACK_URL");
        WORKSPACE_KEYS.put("rate_limit_per_second", "CUSTOMERIO_RATE_LIMIT_PER_SECOND");
        WORKSPACE_KEYS.put("app_api_key_file", "CUSTOMERIO_APP_API_KEY_FILE");
        WORKSPACE_KEYS.put("app_url", "CUSTOMERIO_APP_URL");
        WORKSPACE_KEYS.put("app_rate_limit_per_second", "CUSTOMERIO_APP_RATE_LIMIT_PER_SECOND");
        WORKSPACE_KEYS.put("app_control_person_id", "CUSTOMERIO_APP_CONTROL_PERSON_ID");
    }

    /**
     * The workspaces to erase from: those of {@code CUSTOMERIO_WORKSPACES_FILE} (YAML or JSON), or
     * the one of the {@code CUSTOMERIO_*} variables, named {@code CUSTOMERIO_WORKSPACE_NAME}
     * ({@value Settings.Workspace#DEFAULT_NAME} unless set).
     */
    private List<Settings.Workspace> workspaces() {
        String file = optional(WORKSPACES_FILE, null);
        if (file == null) {
            String name = optional("CUSTOMERIO_WORKSPACE_NAME", Settings.Workspace.DEFAULT_NAME);
            checkWorkspaceName("CUSTOMERIO_WORKSPACE_NAME", name);
            return List.of(new Settings.Workspace(name, customerIo()));
        }
        List<String> alsoSet = new ArrayList<>();
        for (String v : WORKSPACE_KEYS.values()) {
            for (String n : List.of(v, v.replaceAll("_FILE$", ""), v + "_FILE")) {
                if (env.get(n) != null && !env.get(n).isBlank() && !alsoSet.contains(n)) {
                    alsoSet.add(n);
                }
            }
        }
        if (env.get("CUSTOMERIO_WORKSPACE_NAME") != null) {
            alsoSet.add("CUSTOMERIO_WORKSPACE_NAME");
        }
        if (!alsoSet.isEmpty()) {
            problems.add(WORKSPACES_FILE + ": is set, so " + String.join(", ", alsoSet)
                    + " must not be (each workspace's settings are in the file)");
            return List.of();
        }
        com.fasterxml.jackson.databind.JsonNode root;
        try {
            // YAML 1.2 reads JSON too, so one reader serves both formats. A key twice in one mapping is
            // an error in YAML; Jackson would keep the last one (a whole list of workspaces, or a key file).
            root = com.fasterxml.jackson.dataformat.yaml.YAMLMapper.builder()
                    .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build()
                    .readTree(SmallFiles.read(Path.of(file), CLIENT_FILE_BYTES));
        } catch (SmallFiles.TooLarge e) {
            problems.add(WORKSPACES_FILE + ": " + Redact.filePath(file) + " is " + e.getMessage());
            return List.of();
        } catch (IOException | RuntimeException e) {
            String line = e instanceof com.fasterxml.jackson.core.JsonProcessingException j && j.getLocation() != null
                    ? " (line " + j.getLocation().getLineNr() + ")" : "";
            // Jackson's own message quotes the input: only its kind and the line are shown
            boolean twice = String.valueOf(e.getMessage()).startsWith("Duplicate field");
            problems.add(WORKSPACES_FILE + ": " + Redact.filePath(file) + (!Files.isReadable(Path.of(file)) ? " is not a readable file"
                    : twice ? " names a key twice in one mapping" + line : " is not valid YAML or JSON" + line));
            return List.of();
        }
        com.fasterxml.jackson.databind.JsonNode list = root == null ? null : root.get("workspaces");
        if (list == null || !list.isArray() || list.isEmpty() || root.size() != 1) {
            problems.add(WORKSPACES_FILE + ": must hold one key, 'workspaces', a list of 1-" + Settings.Workspace.MAX
                    + " workspaces (see README, \"Several workspaces\", and config/workspaces.example.yaml)");
            return List.of();
        }
        if (list.size() > Settings.Workspace.MAX) {
            problems.add(WORKSPACES_FILE + ": " + list.size() + " workspaces; at most " + Settings.Workspace.MAX);
            return List.of();
        }
        List<Settings.Workspace> out = new ArrayList<>();
        Set<String> names = new TreeSet<>();
        for (int i = 0; i < list.size(); i++) {
            Settings.Workspace w = workspace(list.get(i), i + 1);
            if (w != null && !names.add(w.name())) {
                problems.add(WORKSPACES_FILE + ": workspace " + (i + 1) + ": the name '" + w.name() + "' is used twice");
            } else if (w != null) {
                out.add(w);
            }
        }
        oneCustomerIoWorkspaceEach(out);
        return List.copyOf(out);
    }

    /**
     * Two entries that call the same site id at the same Track URL are one Customer.io workspace
     * under two names (a block copied for a staging workspace, its site_id left as it was): each
     * would take the whole rate limit there, and a request would be recorded erased in both while
     * the workspace meant by one of them kept the person. The same for one App API key given to
     * two entries at one App URL.
     */
    private void oneCustomerIoWorkspaceEach(List<Settings.Workspace> workspaces) {
        for (int i = 0; i < workspaces.size(); i++) {
            for (int j = 0; j < i; j++) {
                Settings.CustomerIo a = workspaces.get(j).customerIo();
                Settings.CustomerIo b = workspaces.get(i).customerIo();
                if (a.siteIdInUse().equals(b.siteIdInUse()) && Settings.CustomerIo.sameBaseUrl(a.baseUrl(), b.baseUrl())) {
                    problems.add(WORKSPACES_FILE + ": workspaces '" + workspaces.get(j).name() + "' and '" + workspaces.get(i).name()
                            + "' both call site id " + a.siteIdInUse() + " at " + a.baseUrl() + ": they are one Customer.io workspace, so"
                            + " each would take the whole rate limit there, and a request would be recorded erased in both while the"
                            + " workspace one of them means kept the person (give each its own site_id and key)");
                }
                Secret appA = a.verification().appKey();
                Secret appB = b.verification().appKey();
                if (appA != null && appB != null && appA.reveal().strip().equals(appB.reveal().strip())
                        && Settings.CustomerIo.sameBaseUrl(a.appBaseUrl(), b.appBaseUrl())) {
                    // An App API key reads one workspace: the other's look-ups ask a workspace its
                    // people were never in, and each 404 there reads VERIFIED (gone) for them.
                    problems.add(WORKSPACES_FILE + ": workspaces '" + workspaces.get(j).name() + "' and '" + workspaces.get(i).name()
                            + "' use the same App API key at " + a.appBaseUrl() + ": a key reads one Customer.io workspace, so the"
                            + " other's checks would ask a workspace its people were never in, and record them VERIFIED (gone) whether"
                            + " erased or not (give each its own app_api_key_file, holding an App API key of that workspace)");
                }
            }
        }
    }

    /** One workspace of the file, checked by the single workspace's rules; null (and problems) when invalid. */
    private Settings.Workspace workspace(com.fasterxml.jackson.databind.JsonNode node, int number) {
        String where = WORKSPACES_FILE + ": workspace " + number;
        if (!node.isObject()) {
            problems.add(where + ": must be a mapping of name, site_id, track_api_key_file, ...");
            return null;
        }
        com.fasterxml.jackson.databind.JsonNode nameNode = node.get("name");
        if (nameNode == null || !nameNode.isTextual()) {
            problems.add(where + ": name is required (a short label such as brand-us)");
            return null;
        }
        String name = nameNode.asText();
        if (!checkWorkspaceName(where + ": name", name)) {
            return null;
        }
        where = WORKSPACES_FILE + ": workspace " + name;
        Map<String, String> sub = new HashMap<>(env);
        WORKSPACE_KEYS.values().forEach(sub::remove);
        int before = problems.size();
        for (java.util.Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> f = it.next();
            if (f.getKey().equals("name")) {
                continue;
            }
            String variable = WORKSPACE_KEYS.get(f.getKey());
            if (variable == null) {
                problems.add(where + ": unknown key '" + f.getKey() + "' (allowed: name, " + String.join(", ", WORKSPACE_KEYS.keySet())
                        + "; keys are given as files, never inline)");
            } else if (!f.getValue().isValueNode() || f.getValue().isNull()) {
                problems.add(where + ": " + f.getKey() + " must be a single value");
            } else {
                sub.put(variable, f.getValue().asText());
            }
        }
        if (!sub.containsKey("CUSTOMERIO_TRACK_API_KEY_FILE")) {
            problems.add(where + ": track_api_key_file is required (a file holding the workspace's Track API key)");
        }
        if (problems.size() > before) {
            return null;
        }
        SettingsLoader one = new SettingsLoader(sub);
        Settings.CustomerIo c = one.customerIo();
        for (String p : one.problems) {
            String text = p;
            for (Map.Entry<String, String> k : WORKSPACE_KEYS.entrySet()) {
                text = text.replace(k.getValue(), k.getKey());
            }
            problems.add(where + ": " + text);
        }
        return one.problems.isEmpty() ? new Settings.Workspace(name, c) : null;
    }

    private boolean checkWorkspaceName(String what, String name) {
        if (!Settings.Workspace.NAME.matcher(name).matches()) {
            problems.add(what + ": '" + (name.length() > 40 ? name.substring(0, 40) + "…" : name)
                    + "' is not a workspace name (a-z, 0-9, '-' and '_', starting with a letter or digit, at most 32)");
            return false;
        }
        return true;
    }

    private Settings.CustomerIo customerIo() {
        String siteId = required("CUSTOMERIO_SITE_ID", "the Track API site id of the workspace");
        Secret key = secret("CUSTOMERIO_TRACK_API_KEY", true);
        String regionText = optional("CUSTOMERIO_REGION", "us").toUpperCase(Locale.ROOT);
        Settings.Region region = Settings.Region.US;
        try {
            region = Settings.Region.valueOf(regionText);
        } catch (IllegalArgumentException e) {
            problems.add("CUSTOMERIO_REGION: must be 'us' or 'eu' (got '" + regionText.toLowerCase(Locale.ROOT) + "')");
        }
        URI trackUrl = httpUrl("CUSTOMERIO_TRACK_URL");
        int rate = intInRange("CUSTOMERIO_RATE_LIMIT_PER_SECOND", 100, 1, 100_000);
        int attempts = intInRange("CUSTOMERIO_MAX_ATTEMPTS", 5, 1, 20);
        int timeout = intInRange("CUSTOMERIO_TIMEOUT_SECONDS", 10, 1, 300);
        int outagePause = intInRange("CUSTOMERIO_OUTAGE_PAUSE_SECONDS", 30, 1, 3600);
        int headroom = intInRange("CUSTOMERIO_RATE_HEADROOM_PERCENT", 0, 0, 50);
        return new Settings.CustomerIo(siteId, key, region, trackUrl, rate, attempts,
                Duration.ofSeconds(Math.min(timeout, 5)), Duration.ofSeconds(timeout), Duration.ofSeconds(outagePause), headroom,
                verification(), batch());
    }

    /** CUSTOMERIO_TRACK_API (v1 or batch) and, for batch, the size and wait of a batch. */
    private Settings.Batch batch() {
        String api = optional("CUSTOMERIO_TRACK_API", "v1").toLowerCase(Locale.ROOT);
        if (!api.equals("v1") && !api.equals("batch")) {
            problems.add("CUSTOMERIO_TRACK_API: must be 'v1' or 'batch' (got '" + (api.length() > 20 ? api.substring(0, 20) + "…" : api) + "')");
        }
        int items = intInRange("CUSTOMERIO_BATCH_MAX_ITEMS", Settings.Batch.V1.maxItems(), 1, 1000);
        int waitMillis = intInRange("CUSTOMERIO_BATCH_MAX_WAIT_MS", (int) Settings.Batch.V1.maxWait().toMillis(), 1, 10_000);
        return new Settings.Batch(api.equals("batch"), items, Duration.ofMillis(waitMillis));
    }

    /** The App API settings; without CUSTOMERIO_APP_API_KEY verification is off and the rest is not needed. */
    private Settings.Verification verification() {
        Secret key = secret("CUSTOMERIO_APP_API_KEY", false);
        URI url = httpUrl("CUSTOMERIO_APP_URL");
        int rate = intInRange("CUSTOMERIO_APP_RATE_LIMIT_PER_SECOND", 10, 1, 1000);
        Duration first = oneDuration("ERASURE_VERIFY_FIRST_AFTER", Settings.Verification.OFF.firstCheckAfter());
        Duration deadline = oneDuration("ERASURE_VERIFY_DEADLINE", Settings.Verification.OFF.deadline());
        if (first.compareTo(deadline) > 0) {
            problems.add("ERASURE_VERIFY_FIRST_AFTER: " + Settings.human(first) + " is after ERASURE_VERIFY_DEADLINE ("
                    + Settings.human(deadline) + ")");
        }
        return new Settings.Verification(key, url, rate, first, deadline, controlPerson(key != null));
    }

    /**
     * CUSTOMERIO_APP_CONTROL_PERSON_ID: the customer id of a person the workspace holds (a test
     * profile nobody erases); never echoed.
     */
    private Secret controlPerson(boolean withAppKey) {
        String name = "CUSTOMERIO_APP_CONTROL_PERSON_ID";
        String v = env.get(name);
        if (v == null || v.isEmpty()) {
            return null;
        }
        if (!withAppKey) {
            problems.add(name + ": is set without an App API key: it names the person the App API key must find");
            return null;
        }
        // looked up as id_type=id, so Customer.io infers nothing from its shape; still, an email
        // address or a cio_ id here is a mistake (and an email address a person's identifier)
        String bad = v.getBytes(StandardCharsets.UTF_8).length > 150 ? "at most 150 bytes"
                : !v.strip().equals(v) ? "no leading or trailing whitespace"
                : dev.cioerasure.text.VisibleText.hasControlOrInvisible(v) ? "no control or invisible characters"
                : v.indexOf('@') >= 0 ? "an email address is not a customer id"
                : v.startsWith("cio_") ? "a cio_id is not a customer id" : null;
        if (bad != null) {
            problems.add(name + ": not a customer id: " + bad);
            return null;
        }
        return Secret.of(name, v);
    }

    /** An optional absolute http(s) base URL, trailing slashes removed. */
    private URI httpUrl(String name) {
        String text = env.get(name);
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            URI u = URI.create(text.trim().replaceAll("/+$", ""));
            if (u.getScheme() != null && (u.getScheme().equals("http") || u.getScheme().equals("https")) && u.getHost() != null) {
                // A user name or password in it would be printed wherever the URL is (the start-up
                // line, credentials verify) and is never used: the keys authenticate. A query or a
                // fragment would end up in front of every path. The value is not echoed.
                if (u.getRawUserInfo() != null) {
                    problems.add(name + ": must not hold a user name or password (user:password@): the API keys authenticate");
                    return null;
                }
                if (u.getRawQuery() != null || u.getRawFragment() != null) {
                    problems.add(name + ": must be a base URL, without a ?query or #fragment");
                    return null;
                }
                return u;
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        problems.add(name + ": must be an absolute http(s) URL such as http://localhost:8080");
        return null;
    }

    private static final Duration LONGEST = Duration.ofDays(365);

    /** One duration like 30s, 5m, 1h or 1d. */
    private Duration oneDuration(String name, Duration dflt) {
        if (env.get(name) == null) {
            return dflt;
        }
        List<Duration> one = durations(name, List.of(dflt));
        if (one.size() != 1) {
            problems.add(name + ": one duration like 30s, 5m, 1h or 1d");
            return dflt;
        }
        return one.get(0);
    }

    private Settings.Audit audit() {
        Secret key = secret("AUDIT_SUBJECT_KEY", true);
        if (key != null && key.reveal().length() < 16) {
            problems.add("AUDIT_SUBJECT_KEY: too short (at least 16 characters; use 32+ random bytes, e.g. openssl rand -hex 32)");
        }
        return new Settings.Audit(key, checkpoints());
    }

    /** AUDIT_SIGNING_KEY_FILE turns checkpoints on; the key itself is read (and checked) where it is used. */
    private Settings.Checkpoints checkpoints() {
        String keyFile = optional("AUDIT_SIGNING_KEY_FILE", null);
        Path key = null;
        if (keyFile != null) {
            key = Path.of(keyFile);
            if (!Files.isReadable(key)) {
                problems.add("AUDIT_SIGNING_KEY_FILE: " + Redact.filePath(keyFile) + " is not a readable file");
            }
        }
        String topic = optional("AUDIT_CHECKPOINT_TOPIC", Settings.Checkpoints.DEFAULT_TOPIC);
        if (topic.equals("none")) {
            topic = null;
        } else if (!topic.matches("[A-Za-z0-9._-]{1,249}")) {
            problems.add("AUDIT_CHECKPOINT_TOPIC: a Kafka topic name (A-Z a-z 0-9 . _ -), or none");
        }
        String dir = optional("AUDIT_CHECKPOINT_DIR", null);
        Path directory = dir == null ? null : Path.of(dir);
        if (directory != null && !Files.isDirectory(directory)) {
            problems.add("AUDIT_CHECKPOINT_DIR: " + Redact.filePath(dir) + " is not a directory");
        }
        Duration every = oneDuration("AUDIT_CHECKPOINT_EVERY", Duration.ofMinutes(1)); // whole seconds, at least 1s
        return new Settings.Checkpoints(key, topic, directory, every);
    }

    private Settings.Worker worker() {
        String instance = optional("WORKER_INSTANCE_ID", defaultInstanceId());
        if (instance.length() > 64 || !instance.matches("[A-Za-z0-9._:-]+")) {
            problems.add("WORKER_INSTANCE_ID: 1-64 characters of A-Z a-z 0-9 . _ : -");
        }
        int inFlight = intInRange("ERASURE_MAX_IN_FLIGHT", 128, 1, 4096);
        int port = intInRange("METRICS_PORT", 9400, 0, MAX_PORT);
        List<Duration> delays = durations("ERASURE_RETRY_DELAYS", Settings.Worker.DEFAULT_RETRY_DELAYS);
        int parked = intInRange("ERASURE_MAX_PARKED", 10_000, 10, 1_000_000);
        boolean explicitId = env.get("WORKER_INSTANCE_ID") != null && !env.get("WORKER_INSTANCE_ID").isBlank();
        Duration stallAfter = oneDuration("ERASURE_STALL_AFTER", Settings.Worker.DEFAULT_STALL_AFTER);
        return new Settings.Worker(instance, inFlight, port, delays, parked, explicitId, stallAfter);
    }

    private List<Secret> webhook() {
        List<Secret> secrets = new ArrayList<>();
        for (String name : List.of("ERASURE_WEBHOOK_SECRET", "ERASURE_WEBHOOK_SECRET_PREVIOUS")) {
            Secret s = secret(name, name.equals("ERASURE_WEBHOOK_SECRET"));
            if (s == null) {
                continue;
            }
            // it is all that stands between anyone who can reach the intake and an erasure of whoever they name
            if (s.reveal().length() < 16) {
                problems.add(name + ": too short (at least 16 characters: a short secret can be guessed, and with it any request"
                        + " signed; use Customer.io's signing key, or openssl rand -hex 32)");
            }
            secrets.add(s);
        }
        return List.copyOf(secrets);
    }

    static String defaultInstanceId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (Exception e) {
            host = "worker";
        }
        String id = host.replaceAll("[^A-Za-z0-9._-]", "-") + "-" + ProcessHandle.current().pid();
        return id.length() > 64 ? id.substring(id.length() - 64) : id;
    }

    private String optional(String name, String dflt) {
        String v = env.get(name);
        return v == null || v.isBlank() ? dflt : v.trim();
    }

    private String required(String name, String what) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            problems.add(name + ": missing (" + what + ")");
            return null;
        }
        return v.trim();
    }

    private String topicName(String name, String dflt) {
        String v = optional(name, dflt);
        if (v.length() > 200 || !v.matches("[A-Za-z0-9._-]+")) {
            problems.add(name + ": not a valid Kafka topic name (A-Z a-z 0-9 . _ -, at most 200)");
        }
        return v;
    }

    private int intInRange(String name, int dflt, int min, int max) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return dflt;
        }
        try {
            int i = Integer.parseInt(v.trim());
            if (i < min || i > max) {
                problems.add(name + ": " + i + " is out of range (" + min + ".." + max + ")");
                return dflt;
            }
            return i;
        } catch (NumberFormatException e) {
            // a whole number too large for an int is out of range, not "not a whole number"
            problems.add(name + (v.trim().matches("[+-]?[0-9]+") ? ": " + v.trim() + " is out of range (" + min + ".." + max + ")"
                    : ": not a whole number ('" + v.trim() + "')"));
            return dflt;
        }
    }

    /** A comma-separated list such as {@code 30s,5m,1h}; an empty list means no retry rounds. */
    private List<Duration> durations(String name, List<Duration> dflt) {
        String v = env.get(name);
        if (v == null) {
            return dflt;
        }
        List<Duration> out = new ArrayList<>();
        for (String part : v.split(",", -1)) {
            String t = part.trim().toLowerCase(Locale.ROOT);
            if (t.isEmpty()) {
                if (!v.isBlank()) {
                    problems.add(name + ": an empty entry between commas in '" + v.trim() + "'");
                    return dflt;
                }
                continue;
            }
            try {
                long n = Long.parseLong(t.substring(0, t.length() - 1));
                Duration d = switch (t.charAt(t.length() - 1)) {
                    case 's' -> Duration.ofSeconds(n);
                    case 'm' -> Duration.ofMinutes(n);
                    case 'h' -> Duration.ofHours(n);
                    case 'd' -> Duration.ofDays(n);
                    default -> null;
                };
                if (d == null) {
                    throw new NumberFormatException();
                }
                if (n <= 0 || d.compareTo(LONGEST) > 0) {
                    // no setting means more than a year (a deadline is at most 45 days away), and a
                    // longer one would overflow the times computed from it (a record parked forever)
                    problems.add(name + ": '" + part.trim() + "' must be longer than 0 and at most 365d");
                    return dflt;
                }
                out.add(d);
            } catch (RuntimeException e) {
                problems.add(name + ": '" + part.trim() + "' is not a duration like 30s, 5m, 1h or 1d");
                return dflt;
            }
        }
        if (out.size() > 50) {
            problems.add(name + ": at most 50 retry rounds");
        }
        return List.copyOf(out);
    }

    private static int parsePort(String s) {
        try {
            int p = Integer.parseInt(s);
            return p > 0 && p <= MAX_PORT ? p : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A secret from NAME or NAME_FILE; never both. Problems never quote the value. */
    private Secret secret(String name, boolean required) {
        String direct = env.get(name);
        String fileName = env.get(name + "_FILE");
        boolean hasDirect = direct != null && !direct.isEmpty();
        boolean hasFile = fileName != null && !fileName.isBlank();
        if (hasDirect && hasFile) {
            problems.add(name + ": set either " + name + " or " + name + "_FILE, not both");
            return null;
        }
        if (hasFile) {
            Path path;
            try {
                path = Path.of(fileName.trim());
            } catch (RuntimeException e) {
                problems.add(name + "_FILE: " + Redact.filePath(fileName.trim()) + " is not a readable file");
                return null;
            }
            if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
                problems.add(name + "_FILE: " + Redact.filePath(fileName.trim()) + " is not a readable file");
                return null;
            }
            Secret s;
            try {
                s = Secret.fromFile(name + "_FILE=" + path, path);
            } catch (java.io.UncheckedIOException e) {
                problems.add(name + "_FILE: " + Redact.filePath(fileName.trim()) + (e.getCause() instanceof SmallFiles.TooLarge
                        ? " is " + e.getCause().getMessage() : " is not a readable file"));
                return null;
            }
            if (s.reveal().isEmpty()) {
                problems.add(name + "_FILE: '" + path + "' is empty");
                return null;
            }
            return s;
        }
        if (hasDirect) {
            return Secret.of(name, direct);
        }
        if (required) {
            problems.add(name + ": missing (set " + name + " or " + name + "_FILE)");
        }
        return null;
    }
}
