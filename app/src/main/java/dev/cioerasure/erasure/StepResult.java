package dev.cioerasure.erasure;

import dev.cioerasure.customerio.TrackResult;

/** One Customer.io step after retries: the last attempt's result and how many attempts it took. */
public record StepResult(TrackResult last, int attempts) { }
