package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What the audit commands print of a text a row holds (AuditCommandsIT runs it through the commands). */
class AuditShownTest {
    @Test
    void controlFormatSeparatorPrivateAndLoneSurrogatesAreShownAsEscapes() {
        assertThat(AuditCommand.shown("ok\u001b[2K\r\nX\u202e\u0085\u0007\u2028\ue000")).isEqualTo(
                "ok\\u001b[2K\\u000d\\u000aX\\u202e\\u0085\\u0007\\u2028\\ue000");
        assertThat(AuditCommand.shown("a\ud800b")).isEqualTo("a\\ud800b");
        assertThat(AuditCommand.shown("équipe/42 😀")).as("letters and symbols, in any plane, as they are").isEqualTo("équipe/42 😀");
        assertThat(AuditCommand.shown(null)).isNull();
    }

    /** Tag characters (U+E0000 block) are invisible; they were printed as written when beyond the first plane. */
    @Test
    void formatCharactersBeyondTheFirstPlaneAreShownToo() {
        assertThat(AuditCommand.shown("desk" + new String(Character.toChars(0xE0041)))).isEqualTo("desk\\udb40\\udc41");
    }
}
