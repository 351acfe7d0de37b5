package dev.cioerasure.customerio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cioerasure.request.Identifier;
import dev.cioerasure.request.IdentifierType;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Whatever the identifier, the call goes to exactly one path segment under /customers/, and decodes back to it. */
class IdentifierPathProperties {

    @Provide
    Arbitrary<String> identifiers() {
        return Arbitraries.oneOf(
                Arbitraries.strings().all().ofMinLength(1).ofMaxLength(200).filter(s -> !hasLoneSurrogate(s)),
                Arbitraries.strings().withChars("./%?#&=+@ \\;:,[]").ofMinLength(1).ofMaxLength(30),
                Arbitraries.of(".", "..", "...", "../..", "%2e%2e", "%", "%%", "%zz", "a/b", "?x=1", "#frag", "😀"));
    }

    private static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(++i)))) {
                return true;
            }
            if (Character.isLowSurrogate(c)) {
                return true;
            }
        }
        return false;
    }

    @Property(tries = 5000)
    void encodedSegmentsUseOnlyUnreservedCharactersAndPercentTriplets(@ForAll("identifiers") String raw) {
        String seg = IdentifierPath.encode(raw);
        assertThat(seg).matches("([A-Za-z0-9._~-]|%[0-9A-F]{2})+");
        assertThat(seg).isNotIn(".", "..");
        assertThat(URLDecoder.decode(seg.replace("+", "%2B"), StandardCharsets.UTF_8)).isEqualTo(raw);
    }

    @Property(tries = 3000)
    void theRequestAlwaysTargetsOneCustomerPathSegment(@ForAll("identifiers") String raw) {
        String seg = IdentifierPath.segment(new Identifier(IdentifierType.ID, raw));
        URI uri = URI.create("https://track.customer.io/api/v1/customers/" + seg + "/suppress").normalize();
        assertThat(uri.getRawQuery()).isNull();
        assertThat(uri.getRawFragment()).isNull();
        String[] parts = uri.getRawPath().split("/", -1);
        assertThat(parts).hasSize(6);
        assertThat(parts[3]).isEqualTo("customers");
        assertThat(parts[4]).isEqualTo(seg);
        assertThat(parts[5]).isEqualTo("suppress");
    }
}
