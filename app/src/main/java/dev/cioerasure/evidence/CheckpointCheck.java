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
import java.util.Comparator;
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

    /** Checkpoint files ({@code *.json}) in a directory, as published by the workers, in name order. */
    public static List<byte[]> filesIn(Path dir) throws IOException {
        List<byte[]> raw = new ArrayList<>();
        try (var listing = Files.list(dir)) {
            for (Path f : listing.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList()) {
                raw.add(Files.readAllBytes(f));
            }
        }
        return raw;
    }

    /** Compares the table with those of the raw checkpoints that are signed by {@code key}; the others are counted as ignored. */
    public static Result check(DataSource db, List<byte[]> raw, PublicKey key) throws SQLException {
        List<Checkpoint> valid = new ArrayList<>();
        for (byte[] b : raw) {
            Checkpoint.read(b, key).ifPresent(valid::add);
        }
        return check(db, valid, raw.size() - valid.size());
    }

    private static Result check(DataSource db, List<Checkpoint> checkpoints, int ignored) throws SQLException {
        // one per row: two instances may checkpoint the same head
        Map<Long, Checkpoint> bySeq = new TreeMap<>();
        checkpoints.stream().sorted(Comparator.comparing(Checkpoint::takenAt)).forEach(c -> bySeq.putIfAbsent(c.chainSeq(), c));
        List<Finding> findings = new ArrayList<>();
        long end;
        try (Connection c = db.getConnection()) {
            try (ResultSet rs = c.createStatement().executeQuery("SELECT coalesce(max(chain_seq), 0) FROM audit_event")) {
                rs.next();
                end = rs.getLong(1);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT row_hash FROM audit_event WHERE chain_seq = ?")) {
                for (Checkpoint cp : bySeq.values()) {
                    String when = "the checkpoint of row " + cp.chainSeq() + " taken at " + cp.takenAt() + " by " + cp.worker();
                    if (cp.chainSeq() > end) {
                        findings.add(new Finding("TRUNCATED", cp, "the table ends at row " + end + ", but " + when
                                + " recorded it: rows were deleted from the end and the chain head rewound"));
                        continue;
                    }
                    ps.setLong(1, cp.chainSeq());
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            findings.add(new Finding("TRUNCATED", cp, "row " + cp.chainSeq() + " is missing, but " + when + " recorded it"));
                        } else if (!rs.getString(1).equals(cp.rowHash())) {
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
