package dev.cioerasure.worker;

import org.apache.kafka.common.TopicPartition;

/** A Kafka record by its coordinates. */
record RecordKey(TopicPartition partition, long offset) { }
