-- A cheaper append again. Nothing an auditor sees changes: the canonical form, the hashes, the
-- rules, the reasons and the chain are those of V11; only how the trigger finds the chain's head
-- and runs its look-ups does.
--
-- V11 ran, for every row, one query to lock and read the head, one for this transaction's last
-- row above it, and one per rule of the row's step (two for OUTCOME and WORKSPACE, one for
-- VERIFY): fifteen queries an erasure of five rows. Each query has its own executor set-up, which
-- cost about as much as the index look-up it did.
--
-- Now every row begins with one query that reads the chain's last row, says whether this
-- transaction wrote it, and runs the rules of the row's step (as sub-queries, which PostgreSQL
-- runs only when their value is needed): five queries an erasure.
--  * The chain's last row is this transaction's own only once this transaction holds the head's
--    lock: every appender takes it at its first row (below) and keeps it until it commits, and
--    moves the head before it commits. So then that row is the head, and the rules' look-ups,
--    made under the lock, see every row committed before (as V11's did).
--  * Otherwise (the first row of a transaction, or one whose earlier rows were written in a
--    savepoint, which carry the savepoint's own transaction id), the row takes V11's path: lock
--    and read the head, find this transaction's last row above it, and run the rules again, now
--    under the lock, in V11's queries.
-- "This transaction's own" is the row's xmin compared with this transaction's id: a system column
-- no role can set, and a row nobody can add but through this trigger. Should a row's 32-bit xmin
-- ever equal this transaction's id after a wraparound, the unique chain_seq would refuse a fork:
-- the batch would fail and be retried, not be chained twice.
--
-- Measured with pgbench on PostgreSQL 17 (one connection, 125 rows of every step per transaction,
-- a table of one million rows): medians of 156.5 transactions/s under V11 (49.9 µs a row) and 168.3
-- under V12 (47.5 µs a row); docs/benchmarks-by-hand.md, "Migration V12".

CREATE OR REPLACE FUNCTION public.audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
    mine      boolean; -- the chain's last row is this transaction's: it holds the head's lock
    recorded  boolean; -- the row this one would repeat is already there: skip this one
    done      boolean; -- the request already completed (in this workspace): this row is a DUPLICATE
    mine_seq  bigint;
    mine_hash text;
BEGIN
    IF NEW.step = 'OUTCOME' THEN
        SELECT e.chain_seq, e.row_hash, e.xmin = pg_catalog.pg_current_xact_id()::xid,
               NEW.kafka_topic IS NOT NULL AND EXISTS (
                   SELECT 1 FROM public.audit_event o
                    WHERE o.step = 'OUTCOME' AND o.kafka_topic = NEW.kafka_topic
                      AND o.kafka_partition = NEW.kafka_partition AND o.kafka_offset = NEW.kafka_offset),
               NEW.outcome IN ('COMPLETED', 'FAILED') AND EXISTS (
                   SELECT 1 FROM public.audit_event o
                    WHERE o.request_id = NEW.request_id AND o.step = 'OUTCOME' AND o.outcome = 'COMPLETED')
          INTO head_seq, head_hash, mine, recorded, done
          FROM public.audit_event e ORDER BY e.chain_seq DESC LIMIT 1;
    ELSIF NEW.step = 'WORKSPACE' THEN
        SELECT e.chain_seq, e.row_hash, e.xmin = pg_catalog.pg_current_xact_id()::xid,
               NEW.kafka_topic IS NOT NULL AND EXISTS (
                   SELECT 1 FROM public.audit_event o
                    WHERE o.step = 'WORKSPACE' AND o.workspace = NEW.workspace AND o.kafka_topic = NEW.kafka_topic
                      AND o.kafka_partition = NEW.kafka_partition AND o.kafka_offset = NEW.kafka_offset),
               NEW.outcome IN ('SUCCEEDED', 'FAILED') AND EXISTS (
                   SELECT 1 FROM public.audit_event o
                    WHERE o.request_id = NEW.request_id AND o.step = 'WORKSPACE' AND o.workspace = NEW.workspace
                      AND o.outcome = 'SUCCEEDED')
          INTO head_seq, head_hash, mine, recorded, done
          FROM public.audit_event e ORDER BY e.chain_seq DESC LIMIT 1;
    ELSIF NEW.step = 'VERIFY' THEN
        SELECT e.chain_seq, e.row_hash, e.xmin = pg_catalog.pg_current_xact_id()::xid,
               EXISTS (
                   SELECT 1 FROM public.audit_event o
                    WHERE o.request_id = NEW.request_id AND o.step = 'VERIFY' AND o.workspace IS NOT DISTINCT FROM NEW.workspace),
               false
          INTO head_seq, head_hash, mine, recorded, done
          FROM public.audit_event e ORDER BY e.chain_seq DESC LIMIT 1;
    ELSE
        SELECT e.chain_seq, e.row_hash, e.xmin = pg_catalog.pg_current_xact_id()::xid, false, false
          INTO head_seq, head_hash, mine, recorded, done
          FROM public.audit_event e ORDER BY e.chain_seq DESC LIMIT 1;
    END IF;

    IF mine IS NOT TRUE THEN
        -- V11's path: the head table's one row, by the only plan left without a condition (a
        -- sequential scan, see V11), locked until this transaction ends; then this statement's
        -- own last row above it, if any
        SELECT h.last_seq, h.last_hash INTO head_seq, head_hash FROM public.audit_chain_head h FOR UPDATE;
        SELECT e.chain_seq, e.row_hash INTO mine_seq, mine_hash FROM public.audit_event e
         WHERE e.chain_seq > head_seq ORDER BY e.chain_seq DESC LIMIT 1;
        IF mine_seq IS NOT NULL THEN
            head_seq := mine_seq;
            head_hash := mine_hash;
        END IF;
        -- the rules again, now under the lock
        recorded := false;
        done := false;
        IF NEW.step = 'OUTCOME' THEN
            recorded := NEW.kafka_topic IS NOT NULL AND EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.step = 'OUTCOME' AND e.kafka_topic = NEW.kafka_topic
                   AND e.kafka_partition = NEW.kafka_partition AND e.kafka_offset = NEW.kafka_offset);
            done := NEW.outcome IN ('COMPLETED', 'FAILED') AND EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.request_id = NEW.request_id AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED');
        ELSIF NEW.step = 'WORKSPACE' THEN
            recorded := NEW.kafka_topic IS NOT NULL AND EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.step = 'WORKSPACE' AND e.workspace = NEW.workspace AND e.kafka_topic = NEW.kafka_topic
                   AND e.kafka_partition = NEW.kafka_partition AND e.kafka_offset = NEW.kafka_offset);
            done := NEW.outcome IN ('SUCCEEDED', 'FAILED') AND EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.request_id = NEW.request_id AND e.step = 'WORKSPACE' AND e.workspace = NEW.workspace
                   AND e.outcome = 'SUCCEEDED');
        ELSIF NEW.step = 'VERIFY' THEN
            recorded := EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.request_id = NEW.request_id AND e.step = 'VERIFY' AND e.workspace IS NOT DISTINCT FROM NEW.workspace);
        END IF;
    END IF;

    IF recorded THEN
        RETURN NULL; -- a replay after a crash, or a repeated verification: skip
    END IF;
    IF done THEN
        IF NEW.step = 'OUTCOME' THEN
            NEW.reason := 'request was already completed; this outcome (' || NEW.outcome || ') recorded as duplicate';
        ELSE
            NEW.reason := 'request was already erased in this workspace; this outcome (' || NEW.outcome || ') recorded as duplicate';
        END IF;
        NEW.outcome := 'DUPLICATE';
    END IF;

    NEW.chain_seq := head_seq + 1;
    NEW.recorded_at := date_trunc('microseconds'::text, clock_timestamp());
    NEW.prev_hash := head_hash;
    NEW.row_hash := encode(sha256(convert_to(NEW.prev_hash || public.audit_canonical(NEW), 'UTF8'::name)), 'hex'::text);
    RETURN NEW;
END
$$;
