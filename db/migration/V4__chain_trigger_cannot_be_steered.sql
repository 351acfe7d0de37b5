-- The chain triggers can no longer be steered or wedged by a role that may INSERT.
--
-- 1. Name resolution. The SECURITY DEFINER trigger functions ran with search_path
--    "pg_catalog, public", and PostgreSQL then searches pg_temp *first* for tables: a writer's
--    temporary table named audit_chain_head was read as the chain head. Following PostgreSQL's
--    guidance for SECURITY DEFINER functions, the search path is now "pg_catalog, pg_temp"
--    (pg_temp last; public not searched at all) and every object of ours is schema-qualified, so
--    neither a temporary object nor an object someone created in public (PostgreSQL < 15 lets
--    every role create there) can stand in for one of ours.
-- 2. No caller-settable state. The running head of a transaction travelled in transaction-local
--    settings (cio_erasure.head_*), which any session can set with set_config(). The running head
--    is now read from the table itself: the head row (locked FOR UPDATE by every row, a no-op
--    once this transaction holds the lock) plus the newest row of this statement, if any.
--    Committed appenders always move the head before they release its lock, so a row above
--    the stored head can only be one of this transaction's own.
-- 3. Columns the database owns. The writer may insert only the data columns; id, chain_seq,
--    recorded_at, prev_hash and row_hash are set by the database (an explicit id could otherwise
--    occupy a future sequence value and make every later insert fail on the primary key).
-- 4. CREATE on schema public is revoked from PUBLIC, as PostgreSQL 15 does by default.
--
-- The chain's canonical form and every other guarantee are unchanged.

CREATE OR REPLACE FUNCTION public.audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
    mine_seq  bigint;
    mine_hash text;
BEGIN
    -- Serialise with every other appender until commit (re-locking a row this transaction
    -- already holds costs nothing).
    SELECT h.last_seq, h.last_hash INTO head_seq, head_hash FROM public.audit_chain_head h WHERE h.singleton FOR UPDATE;
    SELECT e.chain_seq, e.row_hash INTO mine_seq, mine_hash FROM public.audit_event e
     WHERE e.chain_seq > head_seq ORDER BY e.chain_seq DESC LIMIT 1;
    IF mine_seq IS NOT NULL THEN
        head_seq := mine_seq;
        head_hash := mine_hash;
    END IF;

    IF NEW.step = 'OUTCOME' AND NEW.kafka_topic IS NOT NULL AND EXISTS (
        SELECT 1 FROM public.audit_event e
         WHERE e.step = 'OUTCOME' AND e.kafka_topic = NEW.kafka_topic
           AND e.kafka_partition = NEW.kafka_partition AND e.kafka_offset = NEW.kafka_offset) THEN
        RETURN NULL; -- this Kafka record already has its outcome (replay after a crash): skip
    END IF;

    IF NEW.step = 'OUTCOME' AND NEW.outcome IN ('COMPLETED', 'FAILED') AND EXISTS (
        SELECT 1 FROM public.audit_event e
         WHERE e.request_id = NEW.request_id AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED') THEN
        NEW.reason := 'request was already completed; this outcome (' || NEW.outcome || ') recorded as duplicate';
        NEW.outcome := 'DUPLICATE';
    END IF;

    NEW.chain_seq := head_seq + 1;
    NEW.recorded_at := date_trunc('microseconds'::text, clock_timestamp());
    NEW.prev_hash := head_hash;
    NEW.row_hash := encode(sha256(convert_to(NEW.prev_hash || public.audit_canonical(NEW), 'UTF8'::name)), 'hex'::text);
    RETURN NEW;
END
$$;

-- Moves the stored head to the newest row this statement appended, once per statement.
CREATE OR REPLACE FUNCTION public.audit_event_after_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    head_seq  bigint;
    mine_seq  bigint;
    mine_hash text;
BEGIN
    SELECT h.last_seq INTO head_seq FROM public.audit_chain_head h WHERE h.singleton FOR UPDATE;
    SELECT e.chain_seq, e.row_hash INTO mine_seq, mine_hash FROM public.audit_event e
     WHERE e.chain_seq > head_seq ORDER BY e.chain_seq DESC LIMIT 1;
    IF mine_seq IS NOT NULL THEN
        UPDATE public.audit_chain_head SET last_seq = mine_seq, last_hash = mine_hash WHERE singleton;
    END IF;
    RETURN NULL;
END
$$;

-- The canonical form, unchanged, with its helpers schema-qualified: it runs inside the trigger,
-- on the trigger's search path (without public). Helpers get no SET clause so they stay inlined.
CREATE OR REPLACE FUNCTION public.audit_canonical(e public.audit_event) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT public.audit_field(e.chain_seq::text) || public.audit_field(public.audit_micros(e.recorded_at))
        || public.audit_field(e.request_id) || public.audit_field(e.subject_hash) || public.audit_field(e.identifier_type)
        || public.audit_field(e.step) || public.audit_field(e.outcome) || public.audit_field(e.http_status::text)
        || public.audit_field(e.attempts::text) || public.audit_field(e.reason) || public.audit_field(e.regulation)
        || public.audit_field(public.audit_micros(e.requested_at)) || public.audit_field(public.audit_micros(e.deadline_at))
        || public.audit_field(e.requested_by) || public.audit_field(e.kafka_topic) || public.audit_field(e.kafka_partition::text)
        || public.audit_field(e.kafka_offset::text) || public.audit_field(e.worker_instance)
        || public.audit_field(public.audit_micros(e.occurred_at))
$$;

ALTER FUNCTION public.audit_event_reject_change() SET search_path = pg_catalog, pg_temp;

-- The writer inserts the data columns only.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        REVOKE INSERT ON public.audit_event FROM cio_erasure_writer;
        GRANT INSERT (request_id, subject_hash, identifier_type, step, outcome, http_status, attempts, reason,
                      regulation, requested_at, deadline_at, requested_by, kafka_topic, kafka_partition,
                      kafka_offset, worker_instance, occurred_at)
            ON public.audit_event TO cio_erasure_writer;
    END IF;
END
$$;

DO $$
BEGIN
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot revoke CREATE on schema public from PUBLIC (not its owner): ask a DBA to';
END
$$;
