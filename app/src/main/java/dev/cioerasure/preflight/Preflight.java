package dev.cioerasure.preflight;

import dev.cioerasure.audit.Databases;
import dev.cioerasure.config.Redact;
import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import java.io.EOFException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Checks, before a command starts its work, that the services it needs answer, and turns
 * every way they can fail into one {@link ServiceProblem} line that names the setting.
 */
public final class Preflight {
    private Preflight() { }

    private static final Pattern JDBC = Pattern.compile("jdbc:postgresql://(?:[^/@]*@)?([^/?;]*)(?:/([^?;]*))?.*");

    /**
     * Opens (and closes) one connection of its own, not a pool's, or explains why it cannot: a
     * refused password, an unknown database or a closed port is known at once, where a pool would
     * first wait out its connection timeout (5 s) while retrying in the background.
     */
    public static void database(Settings.Database db) {
        java.util.Properties p = new java.util.Properties();
        p.setProperty("user", db.user());
        p.setProperty("password", db.password().reveal());
        p.setProperty("connectTimeout", "5");
        p.setProperty("socketTimeout", "10");
        p.setProperty("ApplicationName", "cio-erasure-preflight");
        try (Connection c = new org.postgresql.Driver().connect(db.url(), p)) {
            if (c == null) {
                throw config("DATABASE_URL: not a jdbc:postgresql:// URL");
            }
            c.isValid(5);
        } catch (SQLException | RuntimeException e) {
            throw e instanceof ServiceProblem sp ? sp : explain(e, db);
        }
    }

    /** What a failure to connect to PostgreSQL means, for an operator. */
    public static ServiceProblem explain(Throwable e, Settings.Database db) {
        String where = hostAndPort(db.url());
        String state = sqlState(e);
        if ("28P01".equals(state)) {
            return config("DATABASE_PASSWORD: PostgreSQL refused the password for user '" + db.user() + "' at " + where
                    + " (SQLState 28P01 invalid_password)");
        }
        if ("28000".equals(state)) {
            return config("DATABASE_USER: PostgreSQL does not let user '" + db.user() + "' log in at " + where
                    + " (SQLState 28000: no such role, no LOGIN, or no pg_hba.conf entry)");
        }
        if ("3D000".equals(state)) {
            return config("DATABASE_URL: database '" + database(db.url()) + "' does not exist at " + where + " (SQLState 3D000)");
        }
        if ("42501".equals(state)) {
            // at log-in: CONNECT revoked from PUBLIC (docs/operations.md) and not granted to this login;
            // it was exit 69, "cannot use PostgreSQL", which a supervisor retries for ever
            return config("DATABASE_USER: user '" + db.user() + "' may not connect to database '" + database(db.url()) + "' at "
                    + where + " (SQLState 42501: no CONNECT privilege on it; GRANT CONNECT ON DATABASE to this login, if it is"
                    + " the right one)");
        }
        if ("57014".equals(state)) {
            // a statement_timeout set for the database or the role (a long audit verify or report on a
            // large table); it was exit 69, "cannot use PostgreSQL", which reads as an outage to retry
            return config("DATABASE_URL: PostgreSQL at " + where + " cancelled a statement (SQLState 57014 query_canceled): the"
                    + " statement_timeout of user '" + db.user() + "' or of database '" + database(db.url()) + "' (or an administrator)"
                    + " ended it; raise it for this login, e.g. ALTER ROLE \"" + db.user() + "\" SET statement_timeout = '1h'");
        }
        if (has(e, UnknownHostException.class)) {
            return config("DATABASE_URL: unknown host in " + where + " (the name does not resolve)");
        }
        if (hasState(e, "08P01")) {
            // the driver's first message got an answer that is not PostgreSQL's (an HTTP server on that
            // port, say): pgjdbc then reports a failed TLS set-up or session set-up, not the real cause
            return config("DATABASE_URL: what answers at " + where + " is not PostgreSQL (SQLState 08P01 protocol_violation:"
                    + " is the host or the port wrong?)");
        }
        if ("53300".equals(state)) {
            // it said "cannot use PostgreSQL … (SQLState 53300)", which left the operator to look the code up;
            // still 69: connections close again, and the worker waits for one
            return unavailable("DATABASE_URL: PostgreSQL at " + where + " has no connection left for user '" + db.user() + "' ("
                    + Databases.describeState(state) + ": " + connectionLimit(e, db) + " is reached; each worker holds up to"
                    + " DATABASE_POOL_SIZE connections)");
        }
        if ("57P03".equals(state)) {
            return unavailable("DATABASE_URL: PostgreSQL at " + where + " takes no connections now (" + Databases.describeState(state)
                    + ": it is starting up, shutting down or recovering, or it is a standby that does not serve reads)");
        }
        String message = String.valueOf(rootMessage(e));
        String refused = refusedParameter(e);
        if (refused != null) {
            // a value the driver cannot parse (socketTimeout=abc, sslmode=bogus) or a setting PostgreSQL
            // refuses at log-in (options=-c …): it was exit 69, "cannot use PostgreSQL", and a worker
            // waited for a database that would never take it
            String password = db.password().reveal();
            String detail = !password.isEmpty() && refused.contains(password) ? "no detail" : refused.replaceFirst("^FATAL: ", "");
            return config("DATABASE_URL: a connection parameter is not valid at " + where + ": " + detail);
        }
        if (message.contains("SSL") || has(e, javax.net.ssl.SSLException.class)) {
            // sslmode / sslrootcert in DATABASE_URL: the server offers no TLS, or its certificate does not check out
            return config("DATABASE_URL: TLS to PostgreSQL at " + where + " failed (" + rootName(e) + ": " + message + ")");
        }
        String cause = networkCause(e);
        if (TIMED_OUT.equals(cause)) {
            List<String> accepting = acceptingConnections(withPorts(where, 5432));
            if (!accepting.isEmpty()) {
                // a wrong port (Kafka's, an HTTP server's) takes the driver's first message and
                // stays silent: "timed out" alone reads as a network problem
                return unavailable("DATABASE_URL: " + String.join(", ", accepting) + " accepts connections, but nothing answered"
                        + " there as PostgreSQL in time: a service that is not PostgreSQL (is the port right?), or a server too busy"
                        + " to answer");
            }
        }
        if (cause != null) {
            return unavailable("DATABASE_URL: cannot connect to PostgreSQL at " + where + " (" + cause + ")");
        }
        return unavailable("DATABASE_URL: cannot use PostgreSQL at " + where
                + (state == null ? " (" + rootName(e) + ")" : " (" + Databases.describeState(state) + ")"));
    }

    /**
     * Which limit a refusal with SQLState 53300 met, as PostgreSQL's (English) message names it;
     * any of them when the message is in another language.
     */
    private static String connectionLimit(Throwable e, Settings.Database db) {
        String m = String.valueOf(rootMessage(e));
        if (m.contains("too many connections for role")) {
            return "the CONNECTION LIMIT of role '" + db.user() + "'";
        }
        if (m.contains("too many connections for database")) {
            return "the CONNECTION LIMIT of database '" + database(db.url()) + "'";
        }
        if (m.contains("too many clients") || m.contains("connection slots are reserved")) {
            return "the server's max_connections (less the slots it reserves for administrators)";
        }
        return "the server's max_connections, or a CONNECTION LIMIT of the role or the database,";
    }

    /**
     * Asks the cluster for its brokers and the given topics, within the timeout, or explains why
     * it cannot: an unresolvable bootstrap host or a missing topic is a configuration problem, a
     * broker that does not answer is unavailability.
     */
    public static void kafka(Settings.Kafka k, Duration timeout, Collection<String> topics, String topicSetting) {
        kafka(k, timeout, each(topics, Set.of()), topicSetting);
    }

    /**
     * The same, and that the cluster lets this client {@code write} to each topic, as its
     * authorizer answers for the topics' authorized operations (a cluster without an authorizer
     * allows all). An intake whose principal lacked the ACL was ready, and answered every signed
     * request 503 "retry later"; it is a configuration problem naming the ACL.
     */
    public static void kafkaWrite(Settings.Kafka k, Duration timeout, Collection<String> topics, String topicSetting) {
        kafka(k, timeout, each(topics, Set.of(AclOperation.WRITE)), topicSetting);
    }

    /** The same operations needed on each of the topics, in their order. */
    private static Map<String, Set<AclOperation>> each(Collection<String> topics, Set<AclOperation> operations) {
        Map<String, Set<AclOperation>> needs = new java.util.LinkedHashMap<>();
        topics.forEach(t -> needs.put(t, operations));
        return needs;
    }

    /**
     * The same for topics that each need their own operations ({@code READ}, {@code WRITE}); a
     * topic mapped to no operation is only checked to exist.
     */
    public static void kafka(Settings.Kafka k, Duration timeout, Map<String, Set<AclOperation>> needs, String topicSetting) {
        Collection<String> topics = needs.keySet();
        boolean askAuthorizer = needs.values().stream().anyMatch(ops -> !ops.isEmpty());
        Admin admin;
        try {
            admin = new KafkaClients(k).admin("cio-erasure-preflight", timeout);
        } catch (KafkaException e) {
            throw clientNotCreated(k, e);
        }
        try (admin) {
            try {
                admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                throw kafkaProblem(k, e, timeout);
            }
            if (!topics.isEmpty()) {
                try {
                    Map<String, org.apache.kafka.clients.admin.TopicDescription> described = admin.describeTopics(List.copyOf(topics),
                                    new org.apache.kafka.clients.admin.DescribeTopicsOptions().includeAuthorizedOperations(askAuthorizer))
                            .allTopicNames().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    for (var need : needs.entrySet()) { // in the caller's order: the first refusal is named, the same each time
                        var d = described.get(need.getKey());
                        Set<AclOperation> allowed = d == null ? null : d.authorizedOperations(); // null: the cluster does not say
                        for (AclOperation needed : need.getValue()) {
                            if (allowed != null && !allowed.contains(needed) && !allowed.contains(AclOperation.ALL)) {
                                String op = needed.name().toLowerCase(java.util.Locale.ROOT);
                                throw config(topicSetting + ": the cluster at " + k.bootstrapServers() + " does not allow this client to "
                                        + op + (needed == AclOperation.WRITE ? " to" : "") + " topic " + d.name() + " (an ACL: "
                                        + Character.toUpperCase(op.charAt(0)) + op.substring(1)
                                        + " on the topic for this principal; docs/operations.md lists the ACLs)");
                            }
                        }
                    }
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                        throw config(topicSetting + ": topic " + missing(admin, topics, timeout) + " does not exist on the cluster at "
                                + k.bootstrapServers() + " (create it first; docs/operations.md lists the topics)");
                    }
                    throw kafkaProblem(k, e, timeout);
                } catch (TimeoutException e) {
                    throw kafkaProblem(k, e, timeout);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable("interrupted while checking Kafka");
        }
    }

    /**
     * The topics must not be compacted, and must keep a record at least as long as the worker may
     * leave one waiting there ({@code keepFor}: a retry record until its round, a verification
     * record until its next check). Compaction keeps only the latest record of each key, and
     * requests are keyed by person: a person's earlier request (another ticket, a retry record
     * parked for later) could be deleted before any worker reads it, and a tombstone would take
     * the request before it with it, all without a trace. A retention shorter than the wait
     * deletes the record unprocessed at the next restart of the worker that holds it. A topic
     * whose configuration this client may not read (no DescribeConfigs ACL) is not checked.
     */
    public static void topicsKeepTheirRecords(Settings.Kafka k, Duration timeout, Map<String, Duration> keepFor, String topicSetting) {
        Collection<String> topics = keepFor.keySet();
        try (Admin admin = new KafkaClients(k).admin("cio-erasure-preflight-configs", timeout)) {
            List<org.apache.kafka.common.config.ConfigResource> resources = topics.stream()
                    .map(t -> new org.apache.kafka.common.config.ConfigResource(org.apache.kafka.common.config.ConfigResource.Type.TOPIC, t))
                    .toList();
            for (var e : admin.describeConfigs(resources).values().entrySet()) {
                org.apache.kafka.clients.admin.Config config;
                try {
                    config = e.getValue().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException | TimeoutException unreadable) {
                    continue; // not allowed to read it, or no answer: the other checks say what matters
                }
                var policy = config.get(org.apache.kafka.common.config.TopicConfig.CLEANUP_POLICY_CONFIG);
                if (policy != null && policy.value() != null && policy.value().contains("compact")) {
                    throw config(topicSetting + ": topic " + e.getKey().name() + " is compacted (cleanup.policy=" + policy.value()
                            + "): compaction keeps only the latest record of each key, and requests are keyed by person, so a"
                            + " person's earlier request could be deleted before it is processed; use cleanup.policy=delete with a"
                            + " retention (docs/operations.md, \"Kafka topics\")");
                }
                var retention = config.get(org.apache.kafka.common.config.TopicConfig.RETENTION_MS_CONFIG);
                Duration needed = keepFor.getOrDefault(e.getKey().name(), Duration.ZERO);
                Duration kept = retention == null || retention.value() == null || !retention.value().matches("[0-9]+") ? null // -1: for ever
                        : Duration.ofMillis(Long.parseLong(retention.value()));
                if (kept != null && kept.compareTo(needed) < 0) {
                    throw config(topicSetting + ": topic " + e.getKey().name() + " keeps records for " + Settings.human(kept)
                            + " (retention.ms), less than the " + Settings.human(needed) + " a record may wait there, so a worker"
                            + " restarted meanwhile would find it deleted; raise its retention (docs/operations.md, \"Kafka topics\": 7 days)");
                }
            }
        } catch (KafkaException e) {
            throw clientNotCreated(k, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable("interrupted while checking Kafka");
        }
    }

    /**
     * Why a Kafka client could not be made. The settings (an I/O error there is usually a key
     * store that cannot be read), unless the process ran out of file descriptors: a client opens a
     * selector, and "Too many open files" is no setting's fault (the intake once blamed its
     * security settings for a connection flood).
     */
    static ServiceProblem clientNotCreated(Settings.Kafka k, KafkaException e) {
        if (has(e, org.apache.kafka.common.config.ConfigException.class) && String.valueOf(rootMessage(e)).contains("bootstrap")) {
            return config("KAFKA_BOOTSTRAP_SERVERS: no resolvable broker address in '" + k.bootstrapServers() + "'");
        }
        if (root(e) instanceof java.io.IOException io && String.valueOf(io.getMessage()).contains("Too many open files")) {
            return unavailable("this process has no file descriptor left to open a Kafka client (IOException: Too many open"
                    + " files): not a setting; see what holds them, or raise the limit (ulimit -n)");
        }
        return config("KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*, KAFKA_CLIENT_*: cannot create a Kafka client with"
                + " these settings (" + rootName(e) + ": " + withoutSecrets(k, rootMessage(e)) + ")");
    }

    /** The topics of these that the cluster does not know (all of them if that cannot be told). */
    private static List<String> missing(Admin admin, java.util.Collection<String> topics, Duration timeout) throws InterruptedException {
        List<String> missing = new java.util.ArrayList<>();
        for (var t : admin.describeTopics(List.copyOf(topics)).topicNameValues().entrySet()) {
            try {
                t.getValue().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException e) {
                missing.add(t.getKey());
            }
        }
        return missing.isEmpty() ? List.copyOf(topics) : missing;
    }

    /** What a failure to reach Kafka means, for an operator. */
    public static ServiceProblem kafkaProblem(Settings.Kafka k, Throwable e, Duration waited) {
        Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof AuthenticationException) {
            return config("KAFKA_SASL_* / KAFKA_SSL_*: the cluster at " + k.bootstrapServers() + " refused this client's login ("
                    + cause.getClass().getSimpleName() + ": " + withoutSecrets(k, cause.getMessage()) + ")");
        }
        if (cause instanceof AuthorizationException) {
            return config("the cluster at " + k.bootstrapServers() + " does not allow this client what it needs ("
                    + cause.getClass().getSimpleName() + "; docs/operations.md lists the ACLs)");
        }
        List<String> accepting = acceptingConnections(k.bootstrapServers());
        if (!accepting.isEmpty()) {
            // the usual mistake behind it: a TLS or SASL listener's port with a PLAINTEXT client (or
            // the other way round), or another service's port; Kafka's client only times out
            String protocol = String.valueOf(k.client().revealed().getOrDefault("security.protocol", "PLAINTEXT"));
            return unavailable("KAFKA_BOOTSTRAP_SERVERS: " + String.join(", ", accepting) + " accepts connections, but no Kafka"
                    + " broker answered there within " + waited.toSeconds() + " s: a listener for another security protocol than "
                    + protocol + " (KAFKA_SECURITY_PROTOCOL), a service that is not Kafka, or a broker too busy to answer");
        }
        return unavailable("KAFKA_BOOTSTRAP_SERVERS: no Kafka broker at " + k.bootstrapServers() + " answered within "
                + waited.toSeconds() + " s (is it running and reachable from here?)");
    }

    /** The comma-separated hosts of a JDBC URL, each with its port ({@code defaultPort} where it names none). */
    static String withPorts(String hosts, int defaultPort) {
        return java.util.Arrays.stream(hosts.split(",")).map(String::strip)
                .map(h -> h.matches(".*:\\d+") ? h : h + ":" + defaultPort).collect(java.util.stream.Collectors.joining(","));
    }

    /** The addresses of a comma-separated list that accept a TCP connection within a second (well-formed host:port entries only). */
    private static List<String> acceptingConnections(String bootstrapServers) {
        List<String> accepting = new java.util.ArrayList<>();
        for (String entry : bootstrapServers.split(",")) {
            String address = entry.strip();
            int colon = address.lastIndexOf(':');
            if (colon <= 0) {
                continue;
            }
            String host = address.substring(0, colon).replaceAll("^\\[|\\]$", "");
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new java.net.InetSocketAddress(host, Integer.parseInt(address.substring(colon + 1))), 1_000);
                accepting.add(address);
            } catch (java.io.IOException | RuntimeException closedOrUnknown) {
                // not listening, not reachable, or not resolvable: the general message says it
            }
        }
        return accepting;
    }

    private static String rootMessage(Throwable e) {
        return root(e).getMessage();
    }

    /** A client library's message, unless it quotes one of the configured secret values. */
    private static String withoutSecrets(Settings.Kafka k, String message) {
        if (message == null) {
            return "no detail";
        }
        for (dev.cioerasure.config.Secret secret : k.client().secrets().values()) {
            String v = secret.reveal();
            if (v != null && !v.isEmpty() && message.contains(v)) {
                return "detail withheld: it quotes a configured value";
            }
        }
        return message;
    }

    /** A port that cannot be bound, named by its setting. */
    public static ServiceProblem port(String setting, int port, Exception e) {
        if (has(e, BindException.class)) {
            return config(setting + ": port " + port + " is already in use (or not allowed); choose another");
        }
        return config(setting + ": cannot listen on port " + port + " (" + rootName(e) + ")");
    }

    public static ServiceProblem config(String m) {
        return new ServiceProblem(ServiceProblem.Kind.CONFIGURATION, m);
    }

    private static ServiceProblem unavailable(String m) {
        return new ServiceProblem(ServiceProblem.Kind.UNAVAILABLE, m);
    }

    private static final String TIMED_OUT = "timed out";

    private static final Map<Class<? extends Throwable>, String> NETWORK = Map.of(
            ConnectException.class, "connection refused",
            SocketTimeoutException.class, TIMED_OUT,
            NoRouteToHostException.class, "no route to host",
            EOFException.class, "the server closed the connection");

    private static String networkCause(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (var n : NETWORK.entrySet()) {
                if (n.getKey().isInstance(t)) {
                    return n.getValue();
                }
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null && s.getSQLState().startsWith("08")) {
                return "SQLState " + s.getSQLState() + ", no connection";
            }
        }
        return null;
    }

    private static String sqlState(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null && !s.getSQLState().startsWith("08")) {
                return s.getSQLState();
            }
        }
        return null;
    }

    /**
     * What the driver or the server said when it refused a parameter of the connection, or null:
     * an invalid value (22023, the driver's or a log-in setting's), a setting PostgreSQL does not
     * know (42704), or one of the driver's named modes it does not know (08001 "Invalid sslmode
     * value").
     */
    private static String refusedParameter(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null && s.getMessage() != null) {
                String m = s.getMessage();
                if (s.getSQLState().equals("22023")
                        || s.getSQLState().equals("42704") && m.contains("configuration parameter")
                        || s.getSQLState().equals("08001") && m.matches("Invalid \\w+ value: .*")) {
                    return m;
                }
            }
        }
        return null;
    }

    /** Whether {@code e} or one of its causes is an SQLException with this SQLState (also a connection-class one). */
    private static boolean hasState(Throwable e, String sqlState) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && sqlState.equals(s.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    private static boolean has(Throwable e, Class<? extends Throwable> type) {
        return cause(e, type) != null;
    }

    /** {@code e} or its first cause of this type; null when there is none. */
    public static <T extends Throwable> T cause(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /** The simple class name of the innermost cause (no message: it may carry values). */
    public static String rootName(Throwable e) {
        return root(e).getClass().getSimpleName();
    }

    /** The innermost cause. */
    private static Throwable root(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    public static String hostAndPort(String url) {
        Matcher m = JDBC.matcher(url);
        return m.matches() ? m.group(1) : Redact.jdbcUrl(url);
    }

    public static String database(String url) {
        Matcher m = JDBC.matcher(url);
        return m.matches() && m.group(2) != null ? m.group(2) : "?";
    }
}
