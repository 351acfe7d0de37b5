package dev.cioerasure.customerio;

import java.util.Optional;

/** The answer of {@code GET /api/v1/accounts/region}: the call's result and, on success, the region. */
public record RegionCheck(TrackResult result, Optional<String> region, Optional<String> url) { }
