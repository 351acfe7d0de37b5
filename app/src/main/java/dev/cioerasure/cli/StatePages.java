package dev.cioerasure.cli;

import dev.cioerasure.kafka.TopicHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * The lines of a topic listing ({@code dlq list}, {@code parked}), printed as they are read: the
 * states of their requests are looked up in the audit table a page at a time, so memory holds one
 * page, not the whole topic. A DLQ or retry topic may hold a bulk purge after a long outage;
 * held whole, its lines (about 300 bytes each) needed a heap of 300 MB per million.
 */
final class StatePages<L> implements AutoCloseable {
    /** Lines per look-up: one query each, and at most this many lines held. */
    static final int PAGE = 1000;

    private final DlqCommand.States.Lookup lookup;
    private final Function<L, String> requestId;
    private final Function<L, Optional<TopicHeaders.Origin>> record;
    private final BiConsumer<L, DlqCommand.States> print;
    private final java.util.function.BooleanSupplier readerGone;
    private final List<L> page = new ArrayList<>(PAGE);
    private long lines;

    StatePages(DlqCommand.States.Lookup lookup, Function<L, String> requestId, Function<L, Optional<TopicHeaders.Origin>> record,
               BiConsumer<L, DlqCommand.States> print) {
        this(lookup, requestId, record, print, System.out::checkError);
    }

    /** @param readerGone whether the printed lines have nowhere to go any more (the listing then stops, {@link Errors.ReaderGone}) */
    StatePages(DlqCommand.States.Lookup lookup, Function<L, String> requestId, Function<L, Optional<TopicHeaders.Origin>> record,
               BiConsumer<L, DlqCommand.States> print, java.util.function.BooleanSupplier readerGone) {
        this.lookup = lookup;
        this.requestId = requestId;
        this.record = record;
        this.print = print;
        this.readerGone = readerGone;
    }

    /**
     * Opens the audit table when DATABASE_URL is set; {@code print} gets each line with the states of its page.
     *
     * @param record the original record behind a line, when known (its own person is compared with the request's completion)
     */
    static <L> StatePages<L> open(Function<L, String> requestId, Function<L, Optional<TopicHeaders.Origin>> record,
                                  BiConsumer<L, DlqCommand.States> print) {
        return new StatePages<>(DlqCommand.States.Lookup.open(), requestId, record, print);
    }

    void add(L line) {
        page.add(line);
        lines++;
        if (page.size() >= PAGE) {
            flush();
        }
    }

    /** Prints what is left; call once all lines are added. */
    void finish() {
        flush();
    }

    private void flush() {
        if (page.isEmpty()) {
            return;
        }
        DlqCommand.States states;
        try {
            states = lookup.states(page.stream().map(requestId).filter(id -> id != null && !id.isEmpty()).distinct().toList(),
                    page.stream().map(record).flatMap(Optional::stream).map(DlqCommand.States::coordinates).distinct().toList());
        } catch (java.sql.SQLException e) {
            throw new LookupFailed(e);
        }
        page.forEach(l -> print.accept(l, states));
        page.clear();
        if (readerGone.getAsBoolean()) {
            throw Errors.stopped();
        }
    }

    /** Lines added so far. */
    long lines() {
        return lines;
    }

    boolean known() {
        return lookup.known();
    }

    @Override
    public void close() {
        lookup.close();
    }

    /** The audit table failed during a listing; its cause is the SQLException, which the command's caller explains. */
    static final class LookupFailed extends RuntimeException {
        LookupFailed(java.sql.SQLException cause) {
            super(cause);
        }
    }
}
