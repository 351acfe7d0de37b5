package dev.cioerasure.tools;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.cli.HelpTextTest;
import dev.cioerasure.cli.Main;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The dev tools are listed with a whole sentence too (see {@link HelpTextTest}). */
class ToolsHelpTextTest {
    @Test
    void everyDevToolIsListedWithAWholeSentence() {
        CommandLine cli = new CommandLine(new Main());
        cli.addSubcommand(new DemoCommand()).addSubcommand(new SandboxCommand()).addSubcommand(new BenchCommand());
        assertThat(cli.getSubcommands()).containsKeys("demo", "sandbox", "bench");
        assertThat(HelpTextTest.unfinishedSummaries(cli)).isEmpty();
    }
}
