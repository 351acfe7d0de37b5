-- A DUPLICATE says whose completion it repeats.
--
-- Two records of one request id for two persons can run at once, in two instances (records keyed
-- by person land on different partitions). Both call Customer.io; the database keeps the first
-- COMPLETED and, until now, stored the other's final outcome as DUPLICATE with the reason
-- 'request was already completed; this outcome (COMPLETED or FAILED) recorded as duplicate': the
-- same words as a copy of the same person's request. The row did not say that it was another
-- person's, nor, read alone, whether that person was erased; `audit find` on them read NOT ERASED
-- even when their erasure had succeeded.
--
-- Now such a row's reason says so: 'request id was already completed for another identifier; this
-- identifier's outcome (COMPLETED) recorded as duplicate' (or FAILED), and for a WORKSPACE row
-- 'request id was already erased in this workspace for another identifier; this identifier's
-- outcome (SUCCEEDED) recorded as duplicate'. "Another identifier" is another subject hash on the
-- completing row. The outcome stays DUPLICATE (one COMPLETED per request id, by a unique index),
-- so counts, the views and outcome events are as before; `audit find` reads the outcome in the
-- reason. A copy of the same person's request reads as before.
--
-- Only the rare duplicate asks whose completion it is, after the rules, under the head's lock: the
-- append of every other row runs V12's queries unchanged. The canonical form and the chain are
-- those of V12. Rows written before this migration keep their reasons.

CREATE OR REPLACE FUNCTION public.audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
    mine      boolean; -- the chain's last row is this transaction's: it holds the head's lock
    recorded  boolean; -- the row this one would repeat is already there: skip this one
    done      boolean; -- the request already completed (in this workspace): this row is a DUPLICATE
    other     boolean; -- ... and it completed for another identifier: this row is not a copy of it
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
        -- whose completion: asked only here, for the rare duplicate, under the head's lock (both
        -- paths above hold it by now), so the common row pays nothing for it
        IF NEW.step = 'OUTCOME' THEN
            other := EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.request_id = NEW.request_id AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED'
                   AND e.subject_hash IS DISTINCT FROM NEW.subject_hash);
        ELSE
            other := EXISTS (
                SELECT 1 FROM public.audit_event e
                 WHERE e.request_id = NEW.request_id AND e.step = 'WORKSPACE' AND e.workspace = NEW.workspace
                   AND e.outcome = 'SUCCEEDED' AND e.subject_hash IS DISTINCT FROM NEW.subject_hash);
        END IF;
        IF other THEN
            IF NEW.step = 'OUTCOME' THEN
                NEW.reason := 'request id was already completed for another identifier; this identifier''s outcome ('
                              || NEW.outcome || ') recorded as duplicate';
            ELSE
                NEW.reason := 'request id was already erased in this workspace for another identifier; this identifier''s outcome ('
                              || NEW.outcome || ') recorded as duplicate';
            END IF;
        ELSIF NEW.step = 'OUTCOME' THEN
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
