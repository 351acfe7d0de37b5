package dev.cioerasure;

import static org.assertj.core.api.Assertions.assertThat;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import dev.cioerasure.cli.Main;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The production code's shape, checked on every build: it never reaches into the test kit or the
 * dev tools (they are not in cio-erasure.jar), its packages form no cycle, and only the command
 * line prints (everything else logs, where redaction applies).
 */
class LayeringTest {
    /** The application module's own classes (its output directory), not the test kit's on the test classpath. */
    private static final JavaClasses PRODUCTION = new ClassFileImporter().importPath(classesOf(Main.class));

    private static Path classesOf(Class<?> c) {
        try {
            return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void productionCodeUsesNeitherTheTestKitNorTheTools() {
        assertThat(PRODUCTION.contain(dev.cioerasure.worker.ErasureWorker.class)).as("the rules see the production classes").isTrue();
        assertThat(PRODUCTION.containPackage("dev.cioerasure.testkit.embedded")).as("but not the test kit's").isFalse();
        noClasses().that().resideInAPackage("dev.cioerasure..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.cioerasure.testkit..", "dev.cioerasure.tools..",
                        "org.apache.kafka.common.test..", "io.zonky..", "org.junit..", "com.github.tomakehurst..")
                .check(PRODUCTION);
    }

    @Test
    void packagesFormNoCycle() {
        slices().matching("dev.cioerasure.(*)..").should().beFreeOfCycles().check(PRODUCTION);
    }

    @Test
    void onlyTheCommandLinePrints() {
        noClasses().that().resideOutsideOfPackage("dev.cioerasure.cli..")
                .should().accessField(System.class, "out").orShould().accessField(System.class, "err")
                .orShould().callMethod(Throwable.class, "printStackTrace")
                .because("everything else logs through SLF4J, where redaction and levels apply")
                .check(PRODUCTION);
    }

    /**
     * Text written to audit rows, HTTP answers and logs must not depend on the machine's locale: under
     * a Turkish one, {@code "UNAUTHORIZED".toLowerCase()} is "unauthorızed" (a reason in the audit
     * table), {@code "MISSING"} became "signature_mıssıng" (an intake answer).
     */
    @Test
    void caseIsChangedWithAFixedLocale() {
        noClasses().should().callMethod(String.class, "toLowerCase").orShould().callMethod(String.class, "toUpperCase")
                .because("the no-argument forms follow the default locale; use Locale.ROOT")
                .check(PRODUCTION);
    }
}
