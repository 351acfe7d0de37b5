package dev.cioerasure.worker;

import dev.cioerasure.audit.Databases;
import dev.cioerasure.erasure.Paced;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.function.LongSupplier;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rate budget for the whole consumer group, leased from PostgreSQL (table
 * {@code rate_budget_lease}, one set of rows per budget: {@code track} for the Track API,
 * {@code app} for the App API's look-ups): no new infrastructure, and the database is required
 * anyway.
 *
 * <p>Every {@value #RENEW_MILLIS} ms each instance, under a transaction-scoped advisory lock,
 * reads the other instances' rows and writes its own: {@code want} (how many slots of the
 * arrival window it could use: see {@link #want}) and {@code held} (what it may use). Its grant
 * is all of its want plus an equal part of the unwanted rest when the group wants no more than
 * the limit, else its part of the limit in proportion to its want (see {@link #share}); but
 * never more than the limit minus what the others hold. It writes {@code held = max(grant, slots it occupies now)}, so a shrinking grant
 * never lets the rows claim less than is in use. Hence the rows never hold more than the limit
 * together, and every instance starts calls only within its grant: the group's calls, as a
 * server counting arrivals sees them, stay within the limit in every one-second window (each
 * instance's {@code ArrivalWindow} bounds its own).
 *
 * <p>Why in proportion to the backlog: the group then drains as one queue. With skewed keys the
 * instance that owns the busy partitions gets the larger part, every instance runs out of work
 * at about the same time, and no budget waits on an instance that has nothing left to do. A
 * request waits about as long whichever partition it landed in (what deadlines need), rather
 * than a quiet partition's requests jumping the queue of a busy one.
 *
 * <p>A lease is valid for {@value #TTL_MILLIS} ms after its renewal. An instance that cannot
 * renew (database down, paused) starts no call once its own lease has run out. The others
 * count a row until {@code expires_at} plus one second plus the unanswered-call grace, by
 * which time the arrivals of its last calls no longer count at the server. An instance that
 * restarts under the same id finds its predecessor's row: it keeps those slots in its own row,
 * on top of its own, and unused, for the same time.
 */
final class GroupRateBudget implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GroupRateBudget.class);
    static final long RENEW_MILLIS = 200;
    static final long TTL_MILLIS = 1_000;
    /**
     * How long a renewal's session may wait for its client's next statement before the database
     * ends it (and its lock): twice a lease, so a renewal that slow had lost its lease anyway.
     */
    static final long IDLE_IN_RENEWAL_MILLIS = 2 * TTL_MILLIS;
    /** The Track API's budget: two calls per request (suppress, then destroy). */
    static final String TRACK = "track";
    /** The App API's budget (verification): one look-up per check. */
    static final String APP = "app";
    /** Advisory lock key: "cio-erasure rate budget", plus one per budget. */
    private static final long LOCK_KEY = 0x63696f7261746562L;

    private final DataSource dataSource;
    private final String budget;
    private final int callsPerRecord;
    private final String instance;
    private final int limit;
    private final long countGraceMillis;
    private final Paced executor;
    private final LongSupplier backlog;
    private boolean firstRenewal = true;
    /** Slots a previous process under our instance id held, and until when they count (nanoTime). */
    private int predecessorHeld;
    private long predecessorUntilNanos;
    private volatile int grant;
    /** Until when (nanoTime) the grant may be used without another renewal. */
    private long validUntilNanos = System.nanoTime();
    private volatile boolean healthy = true;

    /**
     * The lease rows' budget of a workspace: {@code track} / {@code app} for the workspace named
     * {@value dev.cioerasure.config.Settings.Workspace#DEFAULT_NAME} (as before workspaces, so an
     * upgrade shares them with the previous version), {@code track:<name>} / {@code app:<name>} for another.
     */
    static String budgetName(String kind, String workspace) {
        return dev.cioerasure.config.Settings.Workspace.DEFAULT_NAME.equals(workspace) ? kind : kind + ":" + workspace;
    }

    /**
     * @param unansweredGrace how much longer a call without a response holds its slot
     *                        ({@code TrackPolicy.unansweredGrace}); a stopped instance's row counts that
     *                        much longer, plus one second
     * @param backlog         records this instance has yet to finish, or -1 when not known
     */
    GroupRateBudget(DataSource dataSource, String instance, int limit, Duration unansweredGrace, Paced executor,
                    LongSupplier backlog) {
        this(dataSource, TRACK, 2, instance, limit, unansweredGrace, executor, backlog);
    }

    /**
     * @param budget         which budget: {@link #TRACK} or {@link #APP}
     * @param callsPerRecord calls one record of the backlog needs
     */
    GroupRateBudget(DataSource dataSource, String budget, int callsPerRecord, String instance, int limit, Duration unansweredGrace,
                    Paced executor, LongSupplier backlog) {
        this.dataSource = dataSource;
        this.budget = budget;
        this.callsPerRecord = callsPerRecord;
        this.instance = instance;
        this.limit = limit;
        this.countGraceMillis = 1_000 + unansweredGrace.toMillis();
        this.executor = executor;
        this.backlog = backlog;
        executor.setGrant(0, System.nanoTime());
    }

    int grant() {
        return grant;
    }

    /** False while the lease cannot be renewed (no call starts once it has run out). */
    boolean healthy() {
        return healthy;
    }

    /** One renewal; called every {@value #RENEW_MILLIS} ms. */
    void renew() {
        long started = System.nanoTime();
        int occupied = executor.occupied();
        int want = want(limit, occupied, executor.waiting(), backlog.getAsLong(), callsPerRecord);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                int g = renew(c, want);
                c.commit();
                grant = g;
                validUntilNanos = started + Duration.ofMillis(TTL_MILLIS - RENEW_MILLIS).toNanos();
                executor.setGrant(g, validUntilNanos);
                if (!healthy) {
                    log.info("{} rate budget renewed again: {}/s of the group's {}/s", budget, g, limit);
                }
                healthy = true;
            } catch (SQLException | RuntimeException e) {
                Databases.rollbackAfter(c, e);
                throw e;
            }
        } catch (SQLException | RuntimeException e) {
            // after a failover the renewals would otherwise try the pool's dead idle connections one by one
            if (Databases.connectionLost(e)) {
                Databases.evictIdle(dataSource);
            }
            if (healthy) {
                log.warn("cannot renew this instance's share of the {} rate ({}); it starts no call once its lease"
                        + " runs out", budget, Databases.why(e));
            }
            healthy = false;
        }
    }

    private int renew(Connection c, int want) throws SQLException {
        try (Statement st = c.createStatement()) {
            // An instance cut off mid-renewal (a network partition) left its session holding this
            // lock while the database waited for its next statement, until TCP keepalives noticed
            // (minutes; never, when something in between still answers them): every other
            // instance's renewal waited on it, their leases ran out, and the whole group started no
            // call. Such a session now ends IDLE_IN_RENEWAL_MILLIS after its last statement, and a
            // renewal waits for the lock no longer than a lease lasts (then tries again).
            st.execute("SET LOCAL idle_in_transaction_session_timeout = " + IDLE_IN_RENEWAL_MILLIS
                    + "; SET LOCAL lock_timeout = " + TTL_MILLIS
                    + "; SELECT pg_advisory_xact_lock(" + (LOCK_KEY + budget.hashCode()) + ")");
        }
        try (PreparedStatement ps = c.prepareStatement(
                "DELETE FROM rate_budget_lease WHERE budget = ? AND expires_at < now() - make_interval(secs => ?)")) {
            ps.setString(1, budget);
            ps.setDouble(2, countGraceMillis / 1000.0);
            ps.executeUpdate();
        }
        int othersHeld = 0;
        long wanted = want;
        int live = 1;
        try (PreparedStatement ps = c.prepareStatement("SELECT instance, held, want, expires_at >= now(),"
                + " extract(epoch FROM (expires_at - now())) FROM rate_budget_lease WHERE budget = ?")) {
            ps.setString(1, budget);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (rs.getString(1).equals(instance)) {
                        if (firstRenewal) {
                            // A previous process of ours (killed, or stopped a moment ago): its slots
                            // count until its last calls cannot count at the server any more.
                            long countsFor = Math.round(rs.getDouble(5) * 1000) + countGraceMillis;
                            if (countsFor > 0) {
                                predecessorHeld = rs.getInt(2);
                                predecessorUntilNanos = System.nanoTime() + Duration.ofMillis(countsFor).toNanos();
                            }
                        }
                        continue;
                    }
                    othersHeld += rs.getInt(2);
                    if (rs.getBoolean(4)) {
                        wanted += rs.getInt(3);
                        live++;
                    }
                }
            }
        }
        // Our row keeps showing the predecessor's slots on top of ours while they count, so
        // the others do not take them either.
        int predecessor = System.nanoTime() < predecessorUntilNanos ? predecessorHeld : 0;
        int g = Math.max(0, Math.min(share(limit, want, wanted, live), limit - othersHeld - predecessor));
        if (g < grant) {
            // Lower first, then count what is in use: no call can start above the new grant
            // between the count and the commit, so the row never shows less than is in use.
            // (The old lease's validity stays as it was, in case this renewal fails.)
            grant = g;
            executor.setGrant(g, validUntilNanos);
        }
        int held = Math.max(g, executor.occupied()) + predecessor;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rate_budget_lease (instance, held, want, renewed_at, expires_at, budget)"
                + " VALUES (?, ?, ?, now(), now() + make_interval(secs => ?), ?) ON CONFLICT (budget, instance) DO UPDATE"
                + " SET held = EXCLUDED.held, want = EXCLUDED.want, renewed_at = EXCLUDED.renewed_at, expires_at = EXCLUDED.expires_at")) {
            ps.setString(1, instance);
            ps.setInt(2, held);
            ps.setInt(3, want);
            ps.setDouble(4, TTL_MILLIS / 1000.0);
            ps.setString(5, budget);
            ps.executeUpdate();
        }
        firstRenewal = false;
        return g;
    }

    /**
     * Slots of the arrival window this instance could use: what it occupies now, a quarter more
     * (at least two) to grow into, and two calls for every record of its backlog. Without a
     * known backlog, calls waiting for a slot ask for the whole limit.
     */
    static int want(int limit, int occupied, int waiting, long backlogRecords) {
        return want(limit, occupied, waiting, backlogRecords, 2);
    }

    /** As {@link #want(int, int, int, long)} with {@code callsPerRecord} calls per record of the backlog. */
    static int want(int limit, int occupied, int waiting, long backlogRecords, int callsPerRecord) {
        long headroom = occupied + Math.max(2, occupied / 4);
        if (backlogRecords < 0) {
            return (int) (waiting > 0 ? Math.max(limit, headroom) : Math.min(limit, headroom));
        }
        return (int) Math.min(Integer.MAX_VALUE / 2, headroom + callsPerRecord * backlogRecords);
    }

    /**
     * This instance's part of the limit. When the group's wants fit, its whole want plus an
     * equal part of what nobody wants (so a burst need not wait for the next renewal, and a lone
     * instance has the whole limit); else the limit divided in proportion to the wants (at least
     * one slot for any want).
     *
     * @param groupWant the wants of every live instance, this one's included
     * @param live      live instances, this one included
     */
    static int share(int limit, int want, long groupWant, int live) {
        if (groupWant <= limit) {
            return (int) (want + (limit - groupWant) / Math.max(1, live));
        }
        int proportional = (int) Math.floor((double) limit * want / groupWant);
        return want > 0 ? Math.max(1, proportional) : 0;
    }

    /** Gives the lease back (a clean stop), so the others may use it at once. */
    @Override
    public void close() {
        // No call starts from here on, so what is counted below stays an upper bound.
        executor.setGrant(0, System.nanoTime());
        grant = 0;
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE rate_budget_lease SET want = 0, held = ? WHERE budget = ? AND instance = ?")) {
            // what is still occupied (and a predecessor's slots that still count) counts until
            // its second is over; the row then expires
            int predecessor = System.nanoTime() < predecessorUntilNanos ? predecessorHeld : 0;
            ps.setInt(1, executor.occupied() + predecessor);
            ps.setString(2, budget);
            ps.setString(3, instance);
            ps.executeUpdate();
        } catch (SQLException | RuntimeException e) {
            log.debug("could not give back the rate lease ({}); it expires by itself", e.getClass().getSimpleName());
        }
    }
}
