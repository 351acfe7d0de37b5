package dev.cioerasure.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * An identifier that reached the JVM undecodable (a command line read without a UTF-8 locale, or
 * standard input that is not UTF-8) holds U+FFFD: its hash matches nobody, so audit find answered
 * "no requests" for a person who was erased. It is refused instead.
 */
class AuditSubjectTest {
    @Test
    void anUndecodableCommandLineValueIsABadArgumentNotANotFound() {
        assertThatThrownBy(() -> AuditCommand.Subject.given("--email", "zo\uFFFD\uFFFD@example.org"))
                .isInstanceOfSatisfying(Errors.UserError.class, e -> assertThat(e.exitCode()).isEqualTo(2))
                .hasMessage("--email: holds characters that could not be decoded (the command line is read in the locale's encoding,"
                        + " not UTF-8 here): set LANG=C.UTF-8, or give the identifier on standard input with --email -; nothing was searched");
        assertThat(AuditCommand.Subject.given("--email", "zoë@exämple.org")).isEqualTo("zoë@exämple.org");
    }

    @Test
    void standardInputThatIsNotUtf8IsABadArgument() {
        InputStream before = System.in;
        try {
            System.setIn(new ByteArrayInputStream(new byte[] {'z', 'o', (byte) 0xeb, '@', 'x', '.', 'o', 'r', 'g', '\n'}));
            assertThatThrownBy(() -> AuditCommand.Subject.given("--email", "-"))
                    .isInstanceOfSatisfying(Errors.UserError.class, e -> assertThat(e.exitCode()).isEqualTo(2))
                    .hasMessage("--email -: standard input is not UTF-8 text; nothing was searched");
        } finally {
            System.setIn(before);
        }
    }

    /** A stream without line ends ({@code < /dev/zero}) was read into memory until the heap ran out. */
    @Test
    void standardInputIsReadNoFurtherThanALineLongerThanAnyIdentifier() throws Exception {
        java.util.concurrent.atomic.AtomicLong served = new java.util.concurrent.atomic.AtomicLong();
        InputStream endless = new InputStream() {
            @Override
            public int read() {
                served.incrementAndGet();
                return 'a';
            }
        };
        assertThatThrownBy(() -> AuditCommand.Subject.firstLine(endless, "--id"))
                .isInstanceOfSatisfying(Errors.UserError.class, e -> assertThat(e.exitCode()).isEqualTo(2))
                .hasMessage("--id -: the first line of standard input is longer than 4096 bytes, longer than any identifier;"
                        + " nothing was searched");
        assertThat(served.get()).isEqualTo(4097);
        assertThat(AuditCommand.Subject.firstLine(new ByteArrayInputStream("zoë@x.org\r\nnext\n".getBytes(StandardCharsets.UTF_8)), "--email"))
                .isEqualTo("zoë@x.org");
        assertThat(AuditCommand.Subject.firstLine(new ByteArrayInputStream("p-1".getBytes(StandardCharsets.UTF_8)), "--id")).isEqualTo("p-1");
        assertThat(AuditCommand.Subject.firstLine(new ByteArrayInputStream(new byte[0]), "--id")).isNull();
    }
}
