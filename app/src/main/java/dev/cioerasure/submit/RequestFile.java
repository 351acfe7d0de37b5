package dev.cioerasure.submit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
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

    static final List<String> CSV_COLUMNS = List.of("request_id", "identifier_type", "identifier", "regulation", "requested_at", "requested_by",
            "workspaces");
    private static final Set<String> REQUIRED_CSV = Set.of("identifier_type", "identifier", "regulation", "requested_by");
    /** Lines are read as the worker reads the topic: a field named twice is an error, not the last one. */
    private static final ObjectMapper JSON = dev.cioerasure.request.RequestParser.strictJson();

    private final Format format;
    private final List<Row> rows;
    private final List<String> csvHeader;

    private RequestFile(Format format, List<Row> rows, List<String> csvHeader) {
        this.format = format;
        this.rows = rows;
        this.csvHeader = csvHeader;
    }

    public static Format formatOf(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".ndjson") || name.endsWith(".jsonl") || name.endsWith(".json") ? Format.NDJSON : Format.CSV;
    }

    public static RequestFile read(Path file, Format format) throws IOException {
        return format == Format.CSV ? readCsv(file) : readNdjson(file);
    }

    public Format format() {
        return format;
    }

    public List<Row> rows() {
        return rows;
    }

    /**
     * The file as text: UTF-8, a leading byte order mark dropped. Anything else is refused with
     * the line of the first byte that is not UTF-8, never with the bytes themselves (they may be
     * part of an identifier).
     */
    static String utf8Text(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length);
        java.nio.charset.CoderResult result = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT).decode(in, out, true);
        if (result.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new IOException("line " + line + " is not UTF-8 text; save the file as UTF-8");
        }
        String text = out.flip().toString();
        return text.startsWith("\uFEFF") ? text.substring(1) : text;
    }

    private static RequestFile readNdjson(Path file) throws IOException {
        List<Row> rows = new ArrayList<>();
        List<String> lines = utf8Text(file).lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.isEmpty()) {
                continue;
            }
            try {
                JsonNode n = JSON.readTree(l);
                rows.add(n instanceof ObjectNode o ? new Row(i + 1, o, null) : new Row(i + 1, null, "not a JSON object"));
            } catch (IOException e) {
                rows.add(new Row(i + 1, null, "not valid JSON (or a field named twice, or more after the object)"));
            }
        }
        return new RequestFile(Format.NDJSON, rows, null);
    }

    private static RequestFile readCsv(Path file) throws IOException {
        CsvMapper csv = CsvMapper.builder().enable(CsvParser.Feature.TRIM_SPACES).build();
        CsvSchema schema = CsvSchema.emptySchema().withHeader();
        List<Row> rows = new ArrayList<>();
        List<String> header;
        try (MappingIterator<Map<String, String>> it = csv.readerFor(Map.class).with(schema).readValues(utf8Text(file))) {
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
                } catch (RuntimeException e) {
                    rows.add(new Row(line, null, "not a well-formed CSV row"));
                    continue;
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    // the parser's own message may quote the row; say what is wrong and where
                    throw new IOException(malformed(e, line));
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
                rows.add(new Row(line, m, null));
            }
        }
        return new RequestFile(Format.CSV, rows, header);
    }

    /** What is wrong with a CSV row the parser cannot read, by line, without its content. */
    static String malformed(com.fasterxml.jackson.core.JsonProcessingException e, int rowLine) {
        String what = e.getOriginalMessage();
        int line = e.getLocation() == null || e.getLocation().getLineNr() < 1 ? rowLine : e.getLocation().getLineNr();
        if (what != null && what.startsWith("Too many entries")) {
            return "line " + rowLine + " has more columns than the header names (a value with a comma must be in double quotes)";
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
        if (!Files.exists(out) && out.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            // it holds the identifiers: readable by its owner only, whatever the umask (an existing
            // file keeps the permissions someone gave it)
            Files.createFile(out, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        }
        try (Writer w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            if (format == Format.NDJSON) {
                for (ObjectNode m : messages) {
                    w.write(m.toString());
                    w.write('\n');
                }
                return;
            }
            CsvMapper csv = new CsvMapper();
            CsvSchema.Builder b = CsvSchema.builder();
            // the workspaces column only when a request names workspaces
            boolean named = messages.stream().anyMatch(m -> m.has("workspaces"));
            CSV_COLUMNS.stream().filter(c -> named || !c.equals("workspaces")).forEach(b::addColumn);
            var writer = csv.writer(b.build().withHeader());
            List<List<String>> lines = new ArrayList<>();
            for (ObjectNode m : messages) {
                List<String> line = new ArrayList<>(List.of(m.path("request_id").asText(""), m.path("identifier").path("type").asText(""),
                        m.path("identifier").path("value").asText(""), m.path("regulation").asText(""),
                        m.path("requested_at").asText(""), m.path("requested_by").asText("")));
                if (named) {
                    List<String> ws = new ArrayList<>();
                    m.path("workspaces").forEach(name -> ws.add(name.asText()));
                    line.add(String.join(" ", ws));
                }
                lines.add(line);
            }
            w.write(writer.writeValueAsString(lines));
        }
    }
}
