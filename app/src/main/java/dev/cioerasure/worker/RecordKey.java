package dev.cioerasure.worker;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/** A Kafka record by its coordinates. */
record RecordKey(TopicPartition partition, long offset) {
    static RecordKey of(ConsumerRecord<?, ?> rec) {
        return new RecordKey(new TopicPartition(rec.topic(), rec.partition()), rec.offset());
    }
}
