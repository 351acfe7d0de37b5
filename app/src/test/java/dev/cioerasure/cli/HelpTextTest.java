package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * What {@code --help} lists: picocli shows a command by the first line of its header or description only,
 * so that line must be a whole sentence (it once read "… in Customer.io (suppress, then
 * destroy)," and "… matched", cut where the source broke the line).
 */
public class HelpTextTest {

    /** The commands under {@code root}, at any depth, whose listed summary is not a whole sentence (with it), or without --help. */
    public static List<String> unfinishedSummaries(CommandLine root) {
        List<String> unfinished = new ArrayList<>();
        collect(root, unfinished);
        return unfinished;
    }

    private static void collect(CommandLine command, List<String> unfinished) {
        for (CommandLine sub : command.getSubcommands().values()) {
            CommandLine.Model.UsageMessageSpec usage = sub.getCommandSpec().usageMessage();
            String summary = summary(usage.header().length > 0 ? usage.header() : usage.description());
            if (!isWholeSentence(summary)) {
                unfinished.add(sub.getCommandSpec().qualifiedName() + ": " + summary);
            }
            // README: "Every command has --help" (picocli's own help command takes a command name instead)
            if (!sub.getCommandSpec().optionsMap().containsKey("--help") && !(sub.getCommand() instanceof CommandLine.HelpCommand)) {
                unfinished.add(sub.getCommandSpec().qualifiedName() + ": no --help");
            }
            collect(sub, unfinished);
        }
    }

    /** The line picocli lists: the first element of the header (where there is one) or of the description, up to its first line break. */
    static String summary(String[] description) {
        return description.length == 0 ? "" : description[0].split("%n|\n", 2)[0].trim();
    }

    static boolean isWholeSentence(String s) {
        return s.endsWith(".") && s.chars().filter(c -> c == '(').count() == s.chars().filter(c -> c == ')').count();
    }

    @Test
    void everyCommandIsListedWithAWholeSentence() {
        CommandLine cli = new CommandLine(new Main());
        assertThat(cli.getSubcommands()).containsKeys("worker", "audit", "dlq", "credentials", "submit");
        assertThat(unfinishedSummaries(cli)).isEmpty();
    }

    @Test
    void aSummaryCutMidSentenceIsCaught() {
        assertThat(summary(new String[] {"Consume deletion requests and erase them in Customer.io (suppress, then destroy),",
                "recording every outcome."})).isEqualTo("Consume deletion requests and erase them in Customer.io (suppress, then destroy),");
        assertThat(isWholeSentence("Consume deletion requests and erase them in Customer.io (suppress, then destroy),")).isFalse();
        assertThat(isWholeSentence("Show requests parked for a later retry round (<ERASURE_TOPIC>.")).isFalse();
        assertThat(isWholeSentence("Every request for one person. The identifier is hashed and matched")).isFalse();
        assertThat(summary(new String[] {"Queue-driven erasure worker.%nConfiguration comes from the environment."}))
                .isEqualTo("Queue-driven erasure worker.");
        assertThat(isWholeSentence("Inspect and replay the dead-letter topic (<ERASURE_TOPIC>.dlq).")).isTrue();
        CommandLine root = new CommandLine(new Root());
        assertThat(unfinishedSummaries(root)).containsExactly("root bare: cut off,", "root bare: no --help");
    }

    @CommandLine.Command(name = "root", subcommands = Bare.class)
    static final class Root {
    }

    @CommandLine.Command(name = "bare", description = {"cut off,", "the rest."})
    static final class Bare {
    }
}
