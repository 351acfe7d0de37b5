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
        record Line(String at, String round, Instant due, String requestId, String reason) { }
        java.util.List<Line> lines = new java.util.ArrayList<>();
        TopicReader.readAll(k, k.retryTopic(), r -> {
            long done = committed.getOrDefault(new TopicPartition(r.topic(), r.partition()), 0L);
            if (all || r.offset() >= done) {
                Instant at = TopicHeaders.valid(r.headers(), TopicHeaders.NOT_BEFORE)
                        .map(v -> Instant.ofEpochMilli(Long.parseLong(v))).orElse(null);
                String round = shown(r.headers(), TopicHeaders.RETRY_ROUND);
                boolean replay = TopicHeaders.valid(r.headers(), TopicHeaders.REPLAY).isPresent();
                lines.add(new Line(r.partition() + "@" + r.offset(), replay && round.isEmpty() ? "replay" : DlqCommand.nz(round), at,
                        shown(r.headers(), TopicHeaders.REQUEST_ID), shown(r.headers(), TopicHeaders.REASON)));
            }
        });
        DlqCommand.States states = DlqCommand.States.of(lines.stream().map(Line::requestId).filter(id -> !id.isEmpty()).distinct().toList());
        Instant now = Instant.now();
        String fmt = "%-14s %-6s %-20s %-24s %s%n";
        System.out.printf(fmt, "retry record", "round", "due", "request id", "reason");
        int shown = 0;
        for (Line l : lines) {
            boolean finished = states.resolved(l.requestId());
            if (finished && !all) {
                continue; // the request is COMPLETED: nothing waits any more
            }
            shown++;
            String due = finished ? "done (COMPLETED)" : l.due() == null || l.due().isBefore(now) ? "now" : l.due().toString().substring(0, 19);
            System.out.printf(fmt, l.at(), l.round(), due, DlqCommand.nz(l.requestId()), l.reason());
        }
        System.out.println(shown + " parked record(s)" + (all ? " (including processed ones)" : " not yet processed by group " + k.groupId())
                + (states.known() ? "" : " " + DlqCommand.States.NOTE));
        return 0;
    }
}
