package dev.cioerasure.request;

import java.util.Locale;
import java.util.Optional;

/** How a person is identified in Customer.io. The wire names are the message contract. */
public enum IdentifierType {
    /** The workspace's own customer id. */
    ID("id"),
    /** An email address (Customer.io matches it case-insensitively). */
    EMAIL("email"),
    /** Customer.io's internal id, sent to the Track API as {@code cio_<value>}. */
    CIO_ID("cio_id");

    private final String wireName;

    IdentifierType(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static Optional<IdentifierType> fromWire(String s) {
        for (IdentifierType t : values()) {
            if (t.wireName.equals(s)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /**
     * The canonical form used for hashing and de-duplication: emails are trimmed and
     * lower-cased (Customer.io treats them case-insensitively), ids are used exactly as given.
     */
    public String normalise(String value) {
        return this == EMAIL ? value.trim().toLowerCase(Locale.ROOT) : value;
    }
}
