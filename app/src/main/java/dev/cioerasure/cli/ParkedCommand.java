package dev.cioerasure.cli;

import static dev.cioerasure.kafka.TopicHeaders.shown;

import dev.cioerasure.config.Settings;
import dev.cioerasure.kafka.KafkaClients;
import dev.cioerasure.kafka.TopicHeaders;
import dev.cioerasure.preflight.Preflight;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "parked", mixinStandardHelpOptions = true,
        description = {"Show requests parked for a later retry round (<ERASURE_TOPIC>.retry).",
                "Those the worker group has not finished yet: round, when it is due, and why it was parked."})
final class ParkedCommand implements Callable<Integer> {
    @Option(names = "--all", description = "Also show records the group has already processed.")
    boolean all;

    @Override
    public Integer call() throws Exception {
        Settings.Kafka k = DlqCommand.kafka();
        Preflight.kafka(k, java.time.Duration.ofSeconds(15), java.util.List.of(k.retryTopic()), "ERASURE_TOPIC");
        Map<TopicPartition, Long> committed = new HashMap<>();
        try (Admin admin = new KafkaClients(k).admin("cio-erasure-parked", java.time.Duration.ofSeconds(15))) {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(k.groupId())
                    .partitionsToOffsetAndMetadata().get();
            offsets.forEach((tp, om) -> {
                if (om != null) {
                    committed.put(tp, om.offset());
                }
            });
        }
        record Line(String at, String round, Instant due, String requestId, java.util.Optional<TopicHeaders.Origin> record, String reason) { }
        Instant now = Instant.now();
        String fmt = "%-14s %-6s %-20s %-24s %s%n";
        long[] shownLines = {0};
        try (StatePages<Line> pages = StatePages.open(Line::requestId, Line::record, (l, states) -> {
            // the id completed for another identifier while this one waited: not this person's erasure;
            // when due, the worker rejects it REQUEST_ID_REUSED (it was hidden as finished)
            boolean another = states.completedForAnother(l.record());
            boolean finished = states.resolved(l.requestId()) && !another;
            if (finished && !all) {
                return; // the request is COMPLETED (or CLOSED without erasure): nothing waits any more
            }
            shownLines[0]++;
            String due = finished ? "done (" + states.status(l.requestId()) + ")" : l.due() == null || l.due().isBefore(now) ? "now" : l.due().toString().substring(0, 19);
            System.out.printf(fmt, l.at(), l.round(), due, DlqCommand.nz(l.requestId()), (another ? "[request id completed for another"
                    + " identifier meanwhile: will be rejected REQUEST_ID_REUSED, submit it under an id of its own] " : "") + l.reason());
        })) {
            System.out.printf(fmt, "retry record", "round", "due", "request id", "reason");
            TopicReader.readAll(k, k.retryTopic(), r -> {
                long done = committed.getOrDefault(new TopicPartition(r.topic(), r.partition()), 0L);
                if (all || r.offset() >= done) {
                    Instant at = TopicHeaders.valid(r.headers(), TopicHeaders.NOT_BEFORE)
                            .map(v -> Instant.ofEpochMilli(Long.parseLong(v))).orElse(null);
                    String round = shown(r.headers(), TopicHeaders.RETRY_ROUND);
                    boolean replay = TopicHeaders.valid(r.headers(), TopicHeaders.REPLAY).isPresent();
                    pages.add(new Line(r.partition() + "@" + r.offset(), replay && round.isEmpty() ? "replay" : DlqCommand.nz(round), at,
                            shown(r.headers(), TopicHeaders.REQUEST_ID), TopicHeaders.Origin.of(r.headers()),
                            shown(r.headers(), TopicHeaders.REASON)));
                }
            });
            pages.finish();
            System.out.println(shownLines[0] + " parked record(s)" + (all ? " (including processed ones)" : " not yet processed by group "
                    + k.groupId()) + (pages.known() ? "" : " " + DlqCommand.States.NOTE));
        } catch (StatePages.LookupFailed e) {
            throw (java.sql.SQLException) e.getCause();
        }
        return 0;
    }
}
