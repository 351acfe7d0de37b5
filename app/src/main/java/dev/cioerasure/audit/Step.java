package dev.cioerasure.audit;

/**
 * What a row is about: one Customer.io call (in one workspace), the request's final outcome in
 * one workspace ({@code WORKSPACE}), the request's outcome for one Kafka record, or the check (App
 * API) that the person is gone from a workspace after it completed there.
 */
public enum Step { SUPPRESS, DESTROY, OUTCOME, VERIFY, WORKSPACE }
