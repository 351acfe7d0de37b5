package dev.cioerasure.audit;

/** What a row is about: one Customer.io call, or the request's outcome for one Kafka record. */
public enum Step { SUPPRESS, DESTROY, OUTCOME }
