package dev.cioerasure.audit;

/**
 * What a row is about: one Customer.io call, the request's outcome for one Kafka record, or the
 * check (App API) that the person is gone after a COMPLETED erasure.
 */
public enum Step { SUPPRESS, DESTROY, OUTCOME, VERIFY }
