package dev.cioerasure.customerio;

import java.util.Locale;

/** The Track API calls this project makes. */
public enum TrackOperation {
    /** POST /api/v1/customers/{identifier}/suppress: deletes the profile and blocks re-adding it. */
    SUPPRESS,
    /** DELETE /api/v1/customers/{identifier}: 200 also when the person is already gone. */
    DESTROY,
    /** GET /api/v1/accounts/region: checks credentials, no side effects. */
    REGION;

    /** Lower-case name, used as a metric tag. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
