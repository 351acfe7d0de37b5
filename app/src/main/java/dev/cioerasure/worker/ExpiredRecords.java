package dev.cioerasure.worker;

import dev.cioerasure.metrics.MetricNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records a topic's retention deleted before the group processed them (the worker stopped, or
 * stuck, for longer than the retention). The worker's consumer has no automatic offset reset:
 * with {@code earliest} it moved on to what was left without a word, and those requests got no
 * audit row, no DLQ entry, nothing. Now each such gap is logged with its offsets, counted
 * ({@code erasure_requests_expired_total}, alert {@code ErasureRequestsExpired}), and then
 * skipped, since the records are gone.
 */
final class ExpiredRecords {
    private static final Logger log = LoggerFactory.getLogger(ExpiredRecords.class);
    private final Map<String, Counter> byTopic;
    private final Function<String, String> consequence;

    /** @param consequence what the loss of a topic's records means, for the log line */
    ExpiredRecords(Collection<String> topics, Function<String, String> consequence, MeterRegistry meters) {
        this.consequence = consequence;
        // exported from the start at 0, so increase() sees the first gap
        this.byTopic = topics.stream().collect(Collectors.toMap(Function.identity(), t -> Counter.builder(MetricNames.EXPIRED)
                .description("Offsets of the request, retry or verification topic that the topic's retention deleted before the"
                        + " group processed them (the log names the offsets and what was lost)")
                .tag("topic", t).register(meters)));
    }

    /**
     * After a poll found these fetch positions out of range: a position before the log's start
     * lost the records in between, which is said and counted, and reading goes on from the
     * start; a position past the log's end (a log truncated by an unclean leader election) reads
     * the partition again from its beginning, as the consumer's {@code earliest} did.
     */
    void skipPast(Consumer<?, ?> consumer, Map<TopicPartition, Long> outOfRange) {
        Map<TopicPartition, Long> start = consumer.beginningOffsets(outOfRange.keySet());
        outOfRange.forEach((tp, position) -> {
            long first = start.getOrDefault(tp, 0L);
            if (position < first) {
                long gone = first - position;
                Counter c = byTopic.get(tp.topic());
                if (c != null) {
                    c.increment(gone);
                }
                log.error("{} offset(s) of {}, {} to {}, were deleted by the topic's retention before this group processed them: {}"
                        + " (keep the topic's retention longer than any stop of the workers). Going on from offset {}",
                        gone, tp, position, first - 1, consequence.apply(tp.topic()), first);
                consumer.seek(tp, first);
            } else {
                log.warn("offset {} of {} is past the end of its log (truncated?): reading it again from its beginning; what was"
                        + " done before is recorded as DUPLICATE", position, tp);
                consumer.seekToBeginning(List.of(tp));
            }
        });
    }
}
