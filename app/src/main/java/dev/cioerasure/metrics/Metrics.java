package dev.cioerasure.metrics;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** The Prometheus registry with JVM and process metrics bound. */
public final class Metrics {
    private Metrics() { }

    /** A registry with these filters in place before any meter is registered. */
    public static PrometheusMeterRegistry prometheus(io.micrometer.core.instrument.config.MeterFilter... filters) {
        PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        r.config().commonTags("application", "cio-erasure");
        for (var f : filters) {
            r.config().meterFilter(f);
        }
        new ClassLoaderMetrics().bindTo(r);
        new JvmMemoryMetrics().bindTo(r);
        new JvmGcMetrics().bindTo(r);
        new JvmThreadMetrics().bindTo(r);
        new ProcessorMetrics().bindTo(r);
        new UptimeMetrics().bindTo(r);
        String version = Metrics.class.getPackage().getImplementationVersion();
        io.micrometer.core.instrument.Gauge.builder(MetricNames.BUILD_INFO, () -> 1)
                .description("Always 1; the labels say which build runs")
                .tag("version", version == null ? "dev" : version)
                .tag("java", System.getProperty("java.version"))
                .tag("kafka_clients", kafkaClientsVersion())
                .register(r);
        return r;
    }

    /**
     * A registry that tags every meter registered through it with {@code workspace}, into
     * {@code base}: each workspace's Customer.io meters (calls, breaker, retry, rate, credentials)
     * are told apart by that tag, a bounded set (the configured workspaces).
     */
    public static io.micrometer.core.instrument.MeterRegistry forWorkspace(io.micrometer.core.instrument.MeterRegistry base,
                                                                          String workspace) {
        io.micrometer.core.instrument.composite.CompositeMeterRegistry r =
                new io.micrometer.core.instrument.composite.CompositeMeterRegistry(base.config().clock());
        r.config().commonTags("workspace", workspace);
        r.add(base);
        return r;
    }

    /** The kafka-clients version from the properties file its jar carries (its AppInfoParser is not public API). */
    static String kafkaClientsVersion() {
        try (java.io.InputStream in = org.apache.kafka.clients.consumer.Consumer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            java.util.Properties p = new java.util.Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
