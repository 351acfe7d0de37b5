package dev.cioerasure.submit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A file of requests from the privacy team: CSV with a header row, or NDJSON (one request message
 * per line). Each row becomes a JSON object in the topic's message format, with its line number;
 * validation happens later, against the same contract the worker enforces.
 *
 * <p>CSV columns: {@code request_id} (optional), {@code identifier_type} (id, email, cio_id),
 * {@code identifier}, {@code regulation}, {@code requested_at} (optional, default: now),
 * {@code requested_by}, {@code workspaces} (optional: workspace names separated by spaces or
 * {@code ;}; empty: every workspace).
 */
public final class RequestFile {
    public enum Format { CSV, NDJSON }

    /** One row: where it is in the file, and the message it stands for (possibly without request_id). */
    public record Row(int line, ObjectNode message, String problem) { }

    /** Takes the rows of a file one at a time. */
    @FunctionalInterface
    public interface RowSink {
        void accept(Row row) throws IOException;
    }

    static final List<String> CSV_COLUMNS = List.of("request_id", "identifier_type", "identifier", "regulation", "requested_at", "requested_by",
            "workspaces");
    private static final Set<String> REQUIRED_CSV = Set.of("identifier_type", "identifier", "regulation", "requested_by");
    /** Lines are read as the worker reads the topic: a field named twice is an error, not the last one. */
    private static final ObjectMapper JSON = dev.cioerasure.request.RequestParser.strictJson();

    private final Format format;
    private final List<Row> rows;

    private RequestFile(Format format, List<Row> rows) {
        this.format = format;
        this.rows = rows;
    }

    public static Format formatOf(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".ndjson") || name.endsWith(".jsonl") || name.endsWith(".json") ? Format.NDJSON : Format.CSV;
    }

    /** The whole file in memory (small files; {@link #scan} reads one row at a time). */
    public static RequestFile read(Path file, Format format) throws IOException {
        List<Row> rows = new ArrayList<>();
        scan(file, format, rows::add);
        return new RequestFile(format, rows);
    }

    /**
     * Reads the file row by row, each handed to {@code sink} as it is read: memory does not grow
     * with the file. A file that cannot be read as a whole (not UTF-8, a bad CSV header, a quote
     * left open) throws, naming the line and the cause, never the content; rows handed out before
     * that are then to be disregarded.
     */
    public static void scan(Path file, Format format, RowSink sink) throws IOException {
        scan(file, format, sink, bytes -> { });
    }

    /** The same, telling {@code bytesRead} after each row how many bytes of the file have been read. */
    public static void scan(Path file, Format format, RowSink sink, java.util.function.LongConsumer bytesRead) throws IOException {
        try (StrictUtf8Reader text = new StrictUtf8Reader(Files.newInputStream(file))) {
            RowSink counted = row -> {
                sink.accept(row);
                bytesRead.accept(text.bytesRead);
            };
            if (format == Format.CSV) {
                scanCsv(text, counted);
            } else {
                scanNdjson(text, counted);
            }
        }
    }

    public Format format() {
        return format;
    }

    public List<Row> rows() {
        return rows;
    }

    /**
     * A file's text: UTF-8, a leading byte order mark dropped, decoded as it is read. Anything
     * else is refused with the line of the first byte that is not UTF-8, never with the bytes
     * themselves (they may be part of an identifier).
     */
    static final class StrictUtf8Reader extends Reader {
        private final java.io.InputStream in;
        private final java.nio.charset.CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT);
        private final java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(64 * 1024).flip();
        private boolean eof;
        private boolean flushed;
        private boolean started;
        /** Bytes taken from the file so far. */
        private long bytesRead;
        /** The second half of a pair that a one-char read had no room for, or -1. */
        private int pending = -1;
        /** Line feeds decoded so far: the line being read is one more. */
        private long lineFeeds;
        /** Characters of the line being read. */
        private long lineLength;

        StrictUtf8Reader(java.io.InputStream in) {
            this.in = in;
        }

        @Override
        public int read(char[] buf, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (flushed) {
                return -1;
            }
            if (pending >= 0) {
                buf[off] = (char) pending;
                pending = -1;
                return 1;
            }
            if (len == 1) { // room for a character outside the BMP (two chars) too
                char[] two = new char[2];
                int n = read(two, 0, 2);
                if (n == 2) {
                    pending = two[1];
                }
                if (n > 0) {
                    buf[off] = two[0];
                    return 1;
                }
                return n;
            }
            java.nio.CharBuffer out = java.nio.CharBuffer.wrap(buf, off, len);
            while (out.position() == off) {
                if (!eof && !bytes.hasRemaining()) {
                    bytes.clear();
                    int n = in.read(bytes.array(), 0, bytes.capacity());
                    bytes.limit(Math.max(n, 0));
                    bytesRead += Math.max(n, 0);
                    eof = n < 0;
                } else if (!eof && bytes.remaining() < 4) {
                    bytes.compact();
                    int n = in.read(bytes.array(), bytes.position(), bytes.remaining());
                    eof = n < 0;
                    bytesRead += Math.max(n, 0);
                    bytes.position(bytes.position() + Math.max(n, 0));
                    bytes.flip();
                }
                java.nio.charset.CoderResult r = decoder.decode(bytes, out, eof);
                if (r.isError()) {
                    countLineFeeds(buf, off, out.position());
                    throw new IOException("line " + (lineFeeds + 1) + " is not UTF-8 text; save the file as UTF-8");
                }
                if (eof && out.position() == off) {
                    flushed = true;
                    decoder.flush(out);
                    if (out.position() == off) {
                        return -1;
                    }
                }
            }
            int end = out.position();
            if (!started) {
                started = true;
                if (buf[off] == '\uFEFF') { // a byte order mark is no part of the first line
                    System.arraycopy(buf, off + 1, buf, off, end - off - 1);
                    end--;
                    if (end == off) {
                        return read(buf, off, len);
                    }
                }
            }
            count(buf, off, end);
            return end - off;
        }

        private void count(char[] buf, int from, int to) throws IOException {
            for (int i = from; i < to; i++) {
                if (buf[i] == '\n') {
                    lineFeeds++;
                    lineLength = 0;
                } else if (++lineLength > MAX_LINE_CHARS) {
                    throw tooLong(lineFeeds + 1);
                }
            }
        }

        /** The line of an error found in what was decoded (a line too long there is no matter then). */
        private void countLineFeeds(char[] buf, int from, int to) {
            for (int i = from; i < to; i++) {
                lineFeeds += buf[i] == '\n' ? 1 : 0;
            }
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /**
     * Longest line read, and longest CSV value (one in quotes may span lines), in characters. A
     * request message is at most 16 KiB, so no row of a file of requests comes near it; without a
     * bound, one line without an end (a file that is not one of requests, {@code /dev/zero}) was
     * read into memory until the heap ran out, showing no progress meanwhile.
     */
    static final int MAX_LINE_CHARS = 65_536;

    static IOException tooLong(long line) {
        return new IOException("line " + line + " is longer than " + String.format(Locale.ROOT, "%,d", MAX_LINE_CHARS)
                + " characters, and a request is at most 16 KiB: is this a file of requests?");
    }

    private static void scanNdjson(Reader text, RowSink sink) throws IOException {
        java.io.BufferedReader lines = new java.io.BufferedReader(text, 64 * 1024);
        int lineNr = 0;
        for (String line = lines.readLine(); line != null; line = lines.readLine()) {
            lineNr++;
            String l = line.strip();
            if (l.isEmpty()) {
                continue;
            }
            try {
                JsonNode n = JSON.readTree(l);
                sink.accept(n instanceof ObjectNode o ? new Row(lineNr, o, null) : new Row(lineNr, null, "not a JSON object"));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                sink.accept(new Row(lineNr, null, "not valid JSON (or a field named twice, or more after the object)"));
            }
        }
    }

    private static void scanCsv(Reader text, RowSink sink) throws IOException {
        CsvMapper csv = CsvMapper.builder(com.fasterxml.jackson.dataformat.csv.CsvFactory.builder()
                        .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder()
                                .maxStringLength(MAX_LINE_CHARS).build()).build())
                .enable(CsvParser.Feature.TRIM_SPACES).build();
        CsvSchema schema = CsvSchema.emptySchema().withHeader();
        List<String> header;
        MappingIterator<Map<String, String>> opened;
        try {
            opened = csv.readerFor(Map.class).with(schema).readValues(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            // reading the header: the parser's message names its own classes ("Empty header line ... [Source: ...]")
            String what = e.getOriginalMessage();
            throw new IOException(what != null && what.startsWith("Empty header line")
                    ? "the file is empty, or its first line is blank: a CSV file starts with a header line naming its columns ("
                            + String.join(",", CSV_COLUMNS) + ")"
                    : malformed(e, 1));
        }
        try (MappingIterator<Map<String, String>> it = opened) {
            header = new ArrayList<>();
            CsvSchema parsed = (CsvSchema) it.getParserSchema();
            if (parsed != null) {
                parsed.forEach(c -> header.add(c.getName().strip().toLowerCase(Locale.ROOT)));
            }
            List<String> missing = REQUIRED_CSV.stream().filter(c -> !header.contains(c)).sorted().toList();
            List<String> unknown = header.stream().filter(c -> !CSV_COLUMNS.contains(c)).toList();
            List<String> twice = CSV_COLUMNS.stream().filter(c -> header.indexOf(c) != header.lastIndexOf(c)).toList();
            if (!twice.isEmpty()) {
                // each row would otherwise keep its last value of the column, whichever was meant
                throw new IOException("the CSV header names a column more than once: " + String.join(", ", twice));
            }
            if (!missing.isEmpty() || !unknown.isEmpty()) {
                throw new IOException("the CSV header must name the columns " + String.join(",", CSV_COLUMNS)
                        + (missing.isEmpty() ? "" : "; missing: " + String.join(", ", missing))
                        + (unknown.isEmpty() ? "" : "; unknown: " + unknown.size() + " column(s)"));
            }
            while (it.hasNextValue()) {
                int line = it.getCurrentLocation().getLineNr();
                Map<String, String> raw;
                try {
                    raw = it.nextValue();
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    // the parser's own message may quote the row; say what is wrong and where
                    throw new IOException(malformed(e, line));
                } catch (RuntimeException e) {
                    sink.accept(new Row(line, null, "not a well-formed CSV row"));
                    continue;
                }
                Map<String, String> r = new LinkedHashMap<>();
                raw.forEach((k, v) -> r.put(k.strip().toLowerCase(Locale.ROOT), v));
                if (r.values().stream().allMatch(v -> v == null || v.isBlank())) {
                    continue;
                }
                ObjectNode m = JSON.createObjectNode();
                putIfPresent(m, "request_id", r.get("request_id"));
                ObjectNode id = m.putObject("identifier");
                putIfPresent(id, "type", r.get("identifier_type"));
                putIfPresent(id, "value", r.get("identifier"));
                putIfPresent(m, "regulation", r.get("regulation"));
                putIfPresent(m, "requested_at", r.get("requested_at"));
                putIfPresent(m, "requested_by", r.get("requested_by"));
                String workspaces = r.get("workspaces");
                if (workspaces != null && !workspaces.isBlank()) {
                    var list = m.putArray("workspaces");
                    for (String w : workspaces.strip().split("[\\s;]+")) {
                        list.add(w);
                    }
                }
                sink.accept(new Row(line, m, null));
            }
        }
    }

    /** What is wrong with a CSV row the parser cannot read, by line, without its content. */
    static String malformed(com.fasterxml.jackson.core.JsonProcessingException e, int rowLine) {
        String what = e.getOriginalMessage();
        int line = e.getLocation() == null || e.getLocation().getLineNr() < 1 ? rowLine : e.getLocation().getLineNr();
        if (what != null && what.startsWith("Too many entries")) {
            return "line " + rowLine + " has more columns than the header names (a value with a comma must be in double quotes)";
        }
        if (e instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException) {
            return "a value that starts on line " + rowLine + " is longer than " + String.format(Locale.ROOT, "%,d", MAX_LINE_CHARS)
                    + " characters, and a request is at most 16 KiB (a double quote left open?)";
        }
        if (what != null && what.startsWith("Missing closing quote")) {
            return "a double quote opened on line " + rowLine + " is not closed by the end of the file (line " + line + ")";
        }
        return "line " + rowLine + " is not well-formed CSV (RFC 4180)";
    }

    private static void putIfPresent(ObjectNode n, String field, String v) {
        if (v != null && !v.isEmpty()) {
            n.put(field, v);
        }
    }

    /** Writes the requests (with their final request ids) in this file's format, for the team's follow-up. */
    public static void write(Path out, Format format, List<ObjectNode> messages) throws IOException {
        try (Output o = Output.open(out, format, messages.stream().anyMatch(m -> m.has("workspaces")))) {
            for (ObjectNode m : messages) {
                o.write(m);
            }
            o.commit();
        }
    }

    /**
     * A file of requests written one at a time, in the format read here, into a temporary file
     * beside the target that replaces it on {@link #commit} (the target is never half written).
     * It holds identifiers: a new file is readable by its owner only, whatever the umask; one
     * that replaces an existing file keeps the permissions someone gave that file.
     */
    public static final class Output implements AutoCloseable {
        private final Path target;
        private final Path temp;
        private final Format format;
        private final boolean named;
        private final Writer w;
        private final com.fasterxml.jackson.databind.SequenceWriter csvRows;
        private boolean committed;

        private Output(Path target, Path temp, Format format, boolean named, Writer w) throws IOException {
            this.target = target;
            this.temp = temp;
            this.format = format;
            this.named = named;
            this.w = w;
            if (format == Format.CSV) {
                CsvSchema.Builder b = CsvSchema.builder();
                CSV_COLUMNS.stream().filter(c -> named || !c.equals("workspaces")).forEach(b::addColumn);
                csvRows = new CsvMapper().writer(b.build().withHeader()).writeValues(w);
            } else {
                csvRows = null;
            }
        }

        /** @param named whether a workspaces column is needed (CSV: only when a request names workspaces) */
        public static Output open(Path target, Format format, boolean named) throws IOException {
            Path dir = target.toAbsolutePath().getParent();
            boolean posix = target.getFileSystem().supportedFileAttributeViews().contains("posix");
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = posix && Files.exists(target)
                    ? Files.getPosixFilePermissions(target)
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");
            Path temp = posix
                    ? Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp",
                            java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")))
                    : Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            if (posix) {
                Files.setPosixFilePermissions(temp, perms);
            }
            return new Output(target, temp, format, named, Files.newBufferedWriter(temp, StandardCharsets.UTF_8));
        }

        public void write(ObjectNode m) throws IOException {
            if (format == Format.NDJSON) {
                w.write(m.toString());
                w.write('\n');
                return;
            }
            List<String> line = new ArrayList<>(List.of(m.path("request_id").asText(""), m.path("identifier").path("type").asText(""),
                    m.path("identifier").path("value").asText(""), m.path("regulation").asText(""),
                    m.path("requested_at").asText(""), m.path("requested_by").asText("")));
            if (named) {
                List<String> ws = new ArrayList<>();
                m.path("workspaces").forEach(name -> ws.add(name.asText()));
                line.add(String.join(" ", ws));
            }
            csvRows.write(line);
        }

        /** Puts the file written in place of the target. */
        public void commit() throws IOException {
            if (csvRows != null) {
                csvRows.close();
            }
            w.close();
            dev.cioerasure.config.SmallFiles.replace(temp, target);
            committed = true;
        }

        @Override
        public void close() throws IOException {
            if (!committed) {
                w.close();
                Files.deleteIfExists(temp);
            }
        }
    }
}
