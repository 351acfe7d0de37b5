package dev.cioerasure.customerio;

import java.util.Set;

/**
 * The {@code status} tag of the HTTP call metrics, from a bounded set. Each tag value is a
 * series of its own (with a histogram, some seventy), and the status comes from whatever answers
 * at the base URL: a proxy in the way, or a server answering every code from 100 to 999, made
 * tens of thousands of series. The codes Customer.io and the proxies before it send are kept as
 * they are; any other is its class ({@code 4xx}), or {@code other}.
 */
public final class StatusTags {
    private static final Set<Integer> KEPT = Set.of(200, 201, 202, 204, 207, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502,
            503, 504);

    private StatusTags() { }

    /** The tag of a call that got {@code status}, or {@code noResponse} (io_error, timeout…) when it got none (status 0). */
    public static String of(int status, String noResponse) {
        if (status <= 0) {
            return noResponse;
        }
        if (KEPT.contains(status)) {
            return Integer.toString(status);
        }
        return status >= 100 && status <= 599 ? status / 100 + "xx" : "other";
    }
}
