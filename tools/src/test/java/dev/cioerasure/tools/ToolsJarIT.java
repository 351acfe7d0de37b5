package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.cli.ProductionJarIT;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The tools jar: every production command plus demo, sandbox and bench, with what they embed. */
class ToolsJarIT {
    private static final Path JAR = Path.of("tools", "target", "cio-erasure-tools.jar");

    @Test
    void theToolsJarCarriesTheDevToolsAndTheEmbeddedServers() throws Exception {
        // the very check the production jar passes finds them here, so it can fail
        assertThat(ProductionJarIT.entries(JAR)).filteredOn(ProductionJarIT::toolOrEmbeddedServer)
                .anyMatch(n -> n.startsWith("kafka/server/")).anyMatch(n -> n.startsWith("io/zonky/"))
                .anyMatch(n -> n.startsWith("dev/cioerasure/testkit/sandbox/")).anyMatch(n -> n.startsWith("dev/cioerasure/tools/bench/"));
    }

    @Test
    void theToolsJarListsTheDevToolsNextToTheProductionCommands() throws Exception {
        ProductionJarIT.Run help = ProductionJarIT.javaJar(JAR, "--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("demo", "sandbox", "bench", "worker", "migrate", "audit");
        ProductionJarIT.Run sandbox = ProductionJarIT.javaJar(JAR, "sandbox", "--error-rate", "2");
        assertThat(sandbox.exit()).isEqualTo(2);
        assertThat(sandbox.out()).contains("--error-rate must be 0..1");
    }
}
