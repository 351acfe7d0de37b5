package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code dlq list} and {@code parked} held every line of their topic until the end (about 300
 * bytes each: 300 MB of heap per million dead letters). Lines now go out a page at a time.
 */
class StatePagesTest {
    @Test
    void linesArePrintedAPageAtATimeAsTheyAreAddedNotHeldToTheEnd() {
        List<String> printed = new ArrayList<>();
        List<Integer> printedWhenAdding = new ArrayList<>();
        try (StatePages<String> pages = new StatePages<>(DlqCommand.States.Lookup.none(), line -> "r-" + line, line -> java.util.Optional.empty(),
                (line, states) -> printed.add(line + " " + states.describe("r-" + line)))) {
            for (int i = 0; i < 2_500; i++) {
                printedWhenAdding.add(printed.size());
                pages.add(Integer.toString(i));
            }
            assertThat(printed).hasSize(2_000);
            pages.finish();
            assertThat(pages.lines()).isEqualTo(2_500);
            assertThat(pages.known()).isFalse();
        }
        assertThat(printed).hasSize(2_500).startsWith("0 ?", "1 ?").endsWith("2499 ?");
        // never more than one page waits to be printed
        for (int i = 0; i < printedWhenAdding.size(); i++) {
            assertThat(i - printedWhenAdding.get(i)).isLessThan(StatePages.PAGE);
        }
    }

    /**
     * {@code dlq list | head}: Java never dies of SIGPIPE, so the listing read the whole topic and
     * looked up every page while the shell waited for it. It stops after the page that found the
     * reader gone.
     */
    @Test
    void aListingStopsOnceItsReaderIsGone() {
        boolean[] gone = {false};
        List<String> printed = new ArrayList<>();
        try (StatePages<String> pages = new StatePages<>(DlqCommand.States.Lookup.none(), line -> "r-" + line, line -> java.util.Optional.empty(), (line, states) -> {
            printed.add(line);
            gone[0] = true; // the reader closed its end after the first line
        }, () -> gone[0])) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> {
                for (int i = 0; i < 10 * StatePages.PAGE; i++) {
                    pages.add(Integer.toString(i));
                }
            }).isInstanceOf(Errors.ReaderGone.class);
        }
        assertThat(printed).as("one page, then no more reading or looking up").hasSize(StatePages.PAGE);
    }

    /**
     * A request closed without erasure (the command close) is neither "open" in dlq list nor
     * replayed without --force: it was decided, and a replay would erase the person after all.
     */
    @Test
    void aRequestClosedWithoutErasureIsShownSoAndCountsAsResolved() {
        DlqCommand.States states = new DlqCommand.States(java.util.Map.of("a", "CLOSED", "b", "COMPLETED", "c", "REJECTED"),
                java.util.Map.of(), true);
        assertThat(states.describe("a")).isEqualTo("closed without erasure");
        assertThat(states.describe("b")).isEqualTo("resolved");
        assertThat(states.describe("c")).isEqualTo("open (REJECTED)");
        assertThat(states.describe("d")).isEqualTo("open (no outcome)");
        assertThat(List.of("a", "b", "c", "d")).filteredOn(states::resolved).containsExactly("a", "b");
    }

    /**
     * The request id a reused person was erased under since comes from the audit table, where the
     * writer role can put any text: an escape sequence in it is printed as text, not sent to the
     * operator's terminal.
     */
    @Test
    void theIdAReusedPersonWasErasedUnderIsPrintedAsText() {
        var origin = new dev.cioerasure.kafka.TopicHeaders.Origin("erasure.requests", 0, 7, 0);
        DlqCommand.States states = new DlqCommand.States(java.util.Map.of(), java.util.Map.of(
                new dev.cioerasure.audit.AuditEvent.KafkaCoordinates("erasure.requests", 0, 7),
                new dev.cioerasure.audit.AuditQueries.RecordPerson(true, "own\u001b[2J\r\nFORGED")), true);
        assertThat(states.describeAnother(java.util.Optional.of(origin))).isEqualTo("erased since as own\\u001b[2J\\u000d\\u000aFORGED");
        assertThat(states.describeAnother(java.util.Optional.of(new dev.cioerasure.kafka.TopicHeaders.Origin("erasure.requests", 0, 8, 0))))
                .isEqualTo("not erased (id reused)");
    }
}
