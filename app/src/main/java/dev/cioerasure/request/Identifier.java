package dev.cioerasure.request;

import java.util.Objects;

/**
 * The person to erase. The value is personal data: {@link #toString()} never shows it, and it
 * must never reach a log, a metric or the audit table (which stores only a keyed hash).
 */
public record Identifier(IdentifierType type, String value) {
    public Identifier {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(value, "value");
    }

    public static Identifier email(String value) {
        return new Identifier(IdentifierType.EMAIL, value);
    }

    public static Identifier id(String value) {
        return new Identifier(IdentifierType.ID, value);
    }

    public static Identifier cioId(String value) {
        return new Identifier(IdentifierType.CIO_ID, value);
    }

    @Override
    public String toString() {
        return "Identifier[" + type.wireName() + ", value=[hidden]]";
    }
}
