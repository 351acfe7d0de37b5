package dev.cioerasure.submit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A request file names each value once: which of two was meant is not guessed. */
class RequestFileTest {
    @TempDir
    Path dir;

    private Path file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.UTF_8);
    }

    @Test
    void aCsvHeaderThatNamesAColumnTwiceIsRefused() throws Exception {
        Path twice = file("twice.csv", "identifier_type,identifier,regulation,requested_by,Identifier \n"
                + "email,a@example.com,GDPR,desk,b@example.com\n");
        assertThatThrownBy(() -> RequestFile.read(twice, RequestFile.Format.CSV)).isInstanceOf(IOException.class)
                .hasMessage("the CSV header names a column more than once: identifier");
        Path once = file("once.csv", "identifier_type,identifier,regulation,requested_by\nemail,a@example.com,GDPR,desk\n");
        assertThat(RequestFile.read(once, RequestFile.Format.CSV).rows()).singleElement()
                .satisfies(r -> assertThat(r.message().path("identifier").path("value").asText()).isEqualTo("a@example.com"));
    }

    private static final String HEADER = "identifier_type,identifier,regulation,requested_by\n";

    /** An empty CSV file was refused with the parser's own two lines, naming its classes ("[Source: (…StrictUtf8Reader)"). */
    @Test
    void anEmptyCsvFileOrOneThatStartsWithABlankLineIsRefusedInOneLine() throws Exception {
        for (String text : new String[] {"", "\n\n", "\uFEFF", "\n" + HEADER + "email,a@example.com,GDPR,desk\n"}) {
            Path empty = file("empty.csv", text);
            assertThatThrownBy(() -> RequestFile.scan(empty, RequestFile.Format.CSV, row -> { })).isInstanceOf(IOException.class)
                    .hasMessage("the file is empty, or its first line is blank: a CSV file starts with a header line naming its columns"
                            + " (request_id,identifier_type,identifier,regulation,requested_at,requested_by,workspaces)");
        }
    }

    @Test
    void aFileThatCannotBeReadSaysWhereAndWhyWithoutQuotingIt() throws Exception {
        Path extra = file("extra.csv", HEADER + "email,a@example.com,GDPR,desk\nemail,b@example.com,GDPR,desk,Jane Roe\n"
                + "email,c@example.com,GDPR,desk\n");
        assertThatThrownBy(() -> RequestFile.read(extra, RequestFile.Format.CSV))
                .hasMessage("line 3 has more columns than the header names (a value with a comma must be in double quotes)");
        Path last = file("last.csv", HEADER + "email,b@example.com,GDPR,desk,Jane Roe\n");
        assertThatThrownBy(() -> RequestFile.read(last, RequestFile.Format.CSV)).hasMessageStartingWith("line 2 has more columns");
        Path open = file("open.csv", HEADER + "email,a@example.com,GDPR,desk\nemail,\"b@example.com,GDPR,desk\n\n");
        assertThatThrownBy(() -> RequestFile.read(open, RequestFile.Format.CSV))
                .hasMessage("a double quote opened on line 3 is not closed by the end of the file (line 5)");
        byte[] latin1 = (HEADER + "email,a@example.com,GDPR,desk\nemail,j\u00f6rg@example.com,GDPR,desk\n")
                .getBytes(StandardCharsets.ISO_8859_1);
        for (String name : List.of("latin1.csv", "latin1.ndjson")) {
            Path f = Files.write(dir.resolve(name), latin1);
            assertThatThrownBy(() -> RequestFile.read(f, RequestFile.formatOf(f)))
                    .hasMessage("line 3 is not UTF-8 text; save the file as UTF-8");
        }
    }

    @Test
    void aByteOrderMarkIsNotPartOfTheFirstLine() throws Exception {
        Path csv = file("bom.csv", "\uFEFF" + HEADER + "email,a@example.com,GDPR,desk\n");
        assertThat(RequestFile.read(csv, RequestFile.Format.CSV).rows()).singleElement().satisfies(r -> assertThat(r.problem()).isNull());
        Path ndjson = file("bom.ndjson", "\uFEFF{\"identifier\":{\"type\":\"email\",\"value\":\"a@example.com\"}}\n");
        assertThat(RequestFile.read(ndjson, RequestFile.Format.NDJSON).rows()).singleElement()
                .satisfies(r -> assertThat(r.problem()).isNull());
    }

    @Test
    void theFileOfWhatWasSubmittedIsReadableByItsOwnerOnly() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        var rows = RequestFile.read(file("r.csv", "identifier_type,identifier,regulation,requested_by\nemail,a@example.com,GDPR,desk\n"),
                RequestFile.Format.CSV).rows();
        Path out = dir.resolve("r.submitted.csv");
        RequestFile.write(out, RequestFile.Format.CSV, List.of(rows.get(0).message()));
        assertThat(Files.readString(out)).contains("a@example.com");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out)))
                .as("it holds identifiers: no other user may read it").isEqualTo("rw-------");

        // rewritten (a later submit adds to it): whole, with the permissions someone gave it, no temporary file left
        Files.setPosixFilePermissions(out, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----"));
        RequestFile.write(out, RequestFile.Format.CSV, List.of(rows.get(0).message(), rows.get(0).message()));
        assertThat(Files.readAllLines(out)).hasSize(3);
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out))).isEqualTo("rw-r-----");
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrder("r.csv", "r.submitted.csv");
        }
    }

    @Test
    void aFileIsReadRowByRowWithTheLineOfAByteThatIsNotUtf8PastTheFirstBuffer() throws Exception {
        StringBuilder text = new StringBuilder("identifier_type,identifier,regulation,requested_by\n");
        for (int i = 0; i < 5000; i++) { // about 250 KB: several of the reader's 64 KB buffers
            text.append("email,p").append(i).append("@example.com,GDPR,desk-\u00e9\u4e2d\uD83D\uDE00\n");
        }
        Path f = dir.resolve("big.csv");
        byte[] good = text.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] bad = java.util.Arrays.copyOf(good, good.length + 1);
        bad[good.length] = (byte) 0xC3; // a sequence cut short by the end of the file, on line 5002
        Files.write(f, good);
        int[] rows = {0};
        java.util.List<Long> read = new java.util.ArrayList<>();
        RequestFile.scan(f, RequestFile.Format.CSV, r -> {
            assertThat(r.problem()).isNull();
            assertThat(r.message().path("requested_by").asText()).isEqualTo("desk-\u00e9\u4e2d\uD83D\uDE00");
            rows[0]++;
        }, read::add);
        assertThat(rows[0]).isEqualTo(5000);
        assertThat(read).hasSize(5000).isSorted().last().isEqualTo((long) good.length); // progress by bytes read
        Files.write(f, bad);
        assertThatThrownBy(() -> RequestFile.scan(f, RequestFile.Format.CSV, r -> { }))
                .hasMessage("line 5002 is not UTF-8 text; save the file as UTF-8");
    }

    @Test
    void anNdjsonLineThatNamesAFieldTwiceOrHoldsTwoObjectsIsAProblemOfThatLine() throws Exception {
        String id = "\"identifier\":{\"type\":\"email\",\"value\":\"%s@example.com\"}";
        Path f = file("r.ndjson", String.join("\n",
                "{\"request_id\":\"r1\"," + id.formatted("a") + "," + id.formatted("b") + ",\"regulation\":\"GDPR\"}",
                "{\"request_id\":\"r2\"," + id.formatted("c") + "} {\"request_id\":\"r3\"}",
                "{\"request_id\":\"r4\"," + id.formatted("d") + ",\"regulation\":\"GDPR\"}"));
        var rows = RequestFile.read(f, RequestFile.Format.NDJSON).rows();
        assertThat(rows).hasSize(3);
        assertThat(rows.get(0).message()).isNull();
        assertThat(rows.get(0).problem()).contains("a field named twice").doesNotContain("example.com");
        assertThat(rows.get(1).message()).isNull();
        assertThat(rows.get(2).problem()).isNull();
        assertThat(rows.get(2).message().path("identifier").path("value").asText()).isEqualTo("d@example.com");
    }

    /**
     * A line without an end (a file that is not one of requests) was read into memory until the
     * heap ran out: lines, and CSV values in quotes, are refused past 65,536 characters, naming the
     * line and never the content, after reading no more than that line.
     */
    @Test
    void aLineOrAQuotedValueLongerThanAnyRequestIsRefusedByItsLineUnread() throws Exception {
        String longValue = "x".repeat(70_000);
        Path nul = Files.write(dir.resolve("zeros.csv"), new byte[1 << 20]);
        assertThatThrownBy(() -> RequestFile.scan(nul, RequestFile.Format.CSV, row -> { })).isInstanceOf(IOException.class)
                .hasMessage("line 1 is longer than 65,536 characters, and a request is at most 16 KiB: is this a file of requests?");
        Path ndjson = file("long.ndjson", "{}\n{\"requested_by\":\"" + longValue + "\"}\n");
        List<RequestFile.Row> before = new java.util.ArrayList<>();
        assertThatThrownBy(() -> RequestFile.scan(ndjson, RequestFile.Format.NDJSON, before::add)).isInstanceOf(IOException.class)
                .hasMessageStartingWith("line 2 is longer than 65,536 characters").hasMessageNotContaining("xxxx");
        assertThat(before).hasSize(1);
        Path csv = file("long.csv", HEADER + "email,a@example.com,GDPR,desk\nemail,b@example.com,GDPR," + longValue + "\n");
        assertThatThrownBy(() -> RequestFile.scan(csv, RequestFile.Format.CSV, row -> { })).isInstanceOf(IOException.class)
                .hasMessageStartingWith("line 3 is longer than 65,536 characters");
        String manyShortLines = (longValue.substring(0, 60) + "\n").repeat(2_000); // 122,000 characters in quotes
        Path open = file("open.csv", HEADER + "email,a@example.com,GDPR,desk\nemail,b@example.com,GDPR,\"" + manyShortLines);
        assertThatThrownBy(() -> RequestFile.scan(open, RequestFile.Format.CSV, row -> { })).isInstanceOf(IOException.class)
                .hasMessage("a value that starts on line 3 is longer than 65,536 characters, and a request is at most 16 KiB"
                        + " (a double quote left open?)");
        Path fits = file("fits.csv", HEADER + "email,a@example.com,GDPR," + "d".repeat(60_000) + "\n");
        assertThat(RequestFile.read(fits, RequestFile.Format.CSV).rows()).singleElement()
                .satisfies(r -> assertThat(r.message().path("requested_by").asText()).hasSize(60_000));
    }
}
