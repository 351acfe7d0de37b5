package dev.cioerasure.evidence;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import javax.sql.DataSource;

/**
 * Compares the audit table with checkpoints kept outside it. What a superuser can do to the
 * table that its own hash chain cannot show, a checkpoint shows:
 * <ul>
 *   <li><b>rewritten</b>: a row up to a checkpoint changed and every later hash recomputed (a
 *       re-hashed chain): the hash at the checkpointed row differs;</li>
 *   <li><b>truncated</b>: rows deleted from the end and the chain head rewound: the table ends
 *       before the checkpointed row.</li>
 * </ul>
 */
public final class CheckpointCheck {

    /** One contradiction between the table and a checkpoint. */
    public record Finding(String kind, Checkpoint checkpoint, String problem) { }

    /**
     * @param lastCovered the newest checkpointed row (0 when none); rows after it are not covered yet
     * @param ignored     inputs that are not checkpoints signed by the given key
     */
    public record Result(int checkpoints, int ignored, long lastCovered, long tableEnd, List<Finding> findings) {
        public boolean consistent() {
            return findings.isEmpty();
        }
    }

    private CheckpointCheck() { }

    /** Far above any checkpoint (a few hundred bytes): a larger file is none, and is not read. */
    static final long MAX_CHECKPOINT_BYTES = 64 * 1024;
    /** Checkpointed rows looked up per query. */
    private static final int LOOKUP_CHUNK = 1000;

    /**
     * Takes raw checkpoints one at a time and keeps only those signed by the key, the earliest for
     * each row: memory grows with the rows checkpointed (one a minute while the table grows), not
     * with the bytes read, and a year of them is not held raw.
     */
    public static final class Collector {
        private final PublicKey key;
        private final Map<Long, Checkpoint> bySeq = new TreeMap<>();
        private int ignored;

        public Collector(PublicKey key) {
            this.key = key;
        }

        /** One raw checkpoint (a file's bytes, a record's value); anything else is counted as ignored. */
        public void add(byte[] raw) {
            java.util.Optional<Checkpoint> read = raw == null ? java.util.Optional.empty() : Checkpoint.read(raw, key);
            if (read.isEmpty()) {
                ignored++;
                return;
            }
            // one per row: two instances may checkpoint the same head
            bySeq.merge(read.get().chainSeq(), read.get(), (a, b) -> b.takenAt().isBefore(a.takenAt()) ? b : a);
        }

        /**
         * The checkpoint files ({@code *.json}) of a directory, as the workers publish them. What is
         * not a regular file (a directory, a pipe that would block the read) or is larger than any
         * checkpoint is ignored, and counted so, without being read.
         */
        public void addFilesIn(Path dir) throws IOException {
            try (var listing = Files.list(dir)) {
                for (Path f : listing.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList()) {
                    if (!Files.isRegularFile(f) || Files.size(f) > MAX_CHECKPOINT_BYTES) {
                        ignored++;
                        continue;
                    }
                    try {
                        // bounded as well: a file that grows after its size was read is not read whole
                        add(dev.cioerasure.config.SmallFiles.read(f, (int) MAX_CHECKPOINT_BYTES));
                    } catch (dev.cioerasure.config.SmallFiles.TooLarge grew) {
                        ignored++;
                    }
                }
            }
        }

        /** Compares the table with the checkpoints collected. */
        public Result check(DataSource db) throws SQLException {
            return CheckpointCheck.check(db, bySeq, ignored);
        }
    }

    private static Result check(DataSource db, Map<Long, Checkpoint> bySeq, int ignored) throws SQLException {
        List<Finding> findings = new ArrayList<>();
        long end;
        try (Connection c = db.getConnection()) {
            try (ResultSet rs = c.createStatement().executeQuery("SELECT coalesce(max(chain_seq), 0) FROM audit_event")) {
                rs.next();
                end = rs.getLong(1);
            }
            // the checkpointed rows' hashes a thousand at a time: a year of checkpoints is half a million rows
            List<Checkpoint> all = new ArrayList<>(bySeq.values());
            try (PreparedStatement ps = c.prepareStatement("SELECT chain_seq, row_hash FROM audit_event WHERE chain_seq = ANY (?)")) {
                for (int from = 0; from < all.size(); from += LOOKUP_CHUNK) {
                    List<Checkpoint> chunk = all.subList(from, Math.min(all.size(), from + LOOKUP_CHUNK));
                    ps.setArray(1, c.createArrayOf("bigint", chunk.stream().map(Checkpoint::chainSeq).toArray()));
                    Map<Long, String> hashes = new java.util.HashMap<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            hashes.put(rs.getLong(1), rs.getString(2));
                        }
                    }
                    for (Checkpoint cp : chunk) {
                        String when = "the checkpoint of row " + cp.chainSeq() + " taken at " + cp.takenAt() + " by " + cp.worker();
                        String hash = hashes.get(cp.chainSeq());
                        if (cp.chainSeq() > end) {
                            findings.add(new Finding("TRUNCATED", cp, "the table ends at row " + end + ", but " + when
                                    + " recorded it: rows were deleted from the end and the chain head rewound"));
                        } else if (hash == null) {
                            findings.add(new Finding("TRUNCATED", cp, "row " + cp.chainSeq() + " is missing, but " + when + " recorded it"));
                        } else if (!hash.equals(cp.rowHash())) {
                            findings.add(new Finding("REWRITTEN", cp, "row " + cp.chainSeq() + "'s hash is not the one in " + when
                                    + ": rows up to it were changed and the hashes recomputed (a rewritten or re-hashed history)"));
                        }
                    }
                }
            }
        }
        long lastCovered = bySeq.isEmpty() ? 0 : ((TreeMap<Long, Checkpoint>) bySeq).lastKey();
        return new Result(bySeq.size(), ignored, lastCovered, end, findings);
    }
}
