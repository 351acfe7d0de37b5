package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.request.Identifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IdentifierPathTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "jane@example.com       | jane%40example.com",
            "jane+tag@example.com   | jane%2Btag%40example.com",
            "a/b                    | a%2Fb",
            "100%                   | 100%25",
            "'two words'            | two%20words",
            "zoë                    | zo%C3%AB",
            "日本                    | %E6%97%A5%E6%9C%AC",
            "a?b#c                  | a%3Fb%23c",
            "Az09-._~               | Az09-._~",
            "..                     | %2E%2E",
            ".                      | %2E",
            "a..b                   | a..b",
            "%2F                    | %252F"
    })
    void percentEncodesEverythingOutsideTheUnreservedSet(String raw, String encoded) {
        assertThat(IdentifierPath.encode(raw)).isEqualTo(encoded);
    }

    @Test
    void cioIdIsSentWithItsPrefix() {
        assertThat(IdentifierPath.segment(Identifier.cioId("a3000001"))).isEqualTo("cio_a3000001");
    }

    @Test
    void emailAndIdAreSentAsGiven() {
        assertThat(IdentifierPath.segment(Identifier.email("Jane@Example.com"))).isEqualTo("Jane%40Example.com");
        assertThat(IdentifierPath.segment(Identifier.id("42"))).isEqualTo("42");
    }

    @Test
    void anEmojiIsEncodedFromItsUtf8Bytes() {
        assertThat(IdentifierPath.encode("😀")).isEqualTo("%F0%9F%98%80");
    }
}
