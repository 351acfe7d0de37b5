-- A cheaper append again, with the same guarantee about plans. Nothing an auditor sees changes:
-- the canonical form, the hashes, the rules and the chain are those of V10; so is the trigger's
-- body, but for how it reads the chain head (below).
--
-- Since V3 the chain trigger planned each of its look-ups (this transaction's last row, the rule
-- that a row's step needs) on every row (plan_cache_mode = force_custom_plan): a plan cached while
-- the audit table was nearly empty could be a sequential scan, and a long-lived connection would
-- then keep scanning the whole table on every append as it grows. Planning them was more than half
-- of a row's cost: 122 µs a row before, 54 µs after, measured with pgbench on PostgreSQL 17, one
-- connection in the worker's session settings appending 125 rows (25 erasures) per transaction;
-- three connections, 66 against 125 transactions a second, flat over 1.6 million rows.
--
-- Now each look-up is planned once per connection (force_generic_plan), with sequential and bitmap
-- scans ruled out in this function (enable_seqscan, enable_bitmapscan off): the look-ups in
-- audit_event can only be index scans, whatever the table's size or statistics were when the plan
-- was made. Every one has its index (audit_event_chain_seq_key and the partial unique indexes of
-- the rules).
--
-- The chain head is the exception: one row, updated once per INSERT statement, so its table holds
-- that row's dead versions until they are pruned. Read through its primary key, every look-up
-- walked those versions, and appends slowed as they piled up (three connections appending ten
-- rows a transaction fell from 500 to 140 transactions/s in 30 s). So the head is read without a
-- condition, for which a sequential scan is the only plan (V10's plan for it, made once per
-- connection as for any query without parameters, was a sequential scan or the primary key,
-- depending on the head table's statistics); the primary key and CHECK (singleton) keep the
-- table at one row. audit_event_after_insert (once per statement) is unchanged.
--
-- ChainTriggerPlansIT checks the plans of a connection that first appended to an empty table.

CREATE OR REPLACE FUNCTION public.audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
    mine_seq  bigint;
    mine_hash text;
BEGIN
    -- the head table's one row (primary key singleton, CHECK (singleton)), by the only plan left
    -- without a condition: a sequential scan (see above)
    SELECT h.last_seq, h.last_hash INTO head_seq, head_hash FROM public.audit_chain_head h FOR UPDATE;
    SELECT e.chain_seq, e.row_hash INTO mine_seq, mine_hash FROM public.audit_event e
     WHERE e.chain_seq > head_seq ORDER BY e.chain_seq DESC LIMIT 1;
    IF mine_seq IS NOT NULL THEN
        head_seq := mine_seq;
        head_hash := mine_hash;
    END IF;

    IF NEW.step = 'OUTCOME' THEN
        IF NEW.kafka_topic IS NOT NULL AND EXISTS (
            SELECT 1 FROM public.audit_event e
             WHERE e.step = 'OUTCOME' AND e.kafka_topic = NEW.kafka_topic
               AND e.kafka_partition = NEW.kafka_partition AND e.kafka_offset = NEW.kafka_offset) THEN
            RETURN NULL; -- this Kafka record already has its outcome (replay after a crash): skip
        END IF;
        IF NEW.outcome IN ('COMPLETED', 'FAILED') AND EXISTS (
            SELECT 1 FROM public.audit_event e
             WHERE e.request_id = NEW.request_id AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED') THEN
            NEW.reason := 'request was already completed; this outcome (' || NEW.outcome || ') recorded as duplicate';
            NEW.outcome := 'DUPLICATE';
        END IF;
    ELSIF NEW.step = 'WORKSPACE' THEN
        IF NEW.kafka_topic IS NOT NULL AND EXISTS (
            SELECT 1 FROM public.audit_event e
             WHERE e.step = 'WORKSPACE' AND e.workspace = NEW.workspace AND e.kafka_topic = NEW.kafka_topic
               AND e.kafka_partition = NEW.kafka_partition AND e.kafka_offset = NEW.kafka_offset) THEN
            RETURN NULL; -- this Kafka record already has its outcome in this workspace (replay after a crash): skip
        END IF;
        IF NEW.outcome IN ('SUCCEEDED', 'FAILED') AND EXISTS (
            SELECT 1 FROM public.audit_event e
             WHERE e.request_id = NEW.request_id AND e.step = 'WORKSPACE' AND e.workspace = NEW.workspace
               AND e.outcome = 'SUCCEEDED') THEN
            NEW.reason := 'request was already erased in this workspace; this outcome (' || NEW.outcome || ') recorded as duplicate';
            NEW.outcome := 'DUPLICATE';
        END IF;
    ELSIF NEW.step = 'VERIFY' THEN
        IF EXISTS (
            SELECT 1 FROM public.audit_event e
             WHERE e.request_id = NEW.request_id AND e.step = 'VERIFY' AND e.workspace IS NOT DISTINCT FROM NEW.workspace) THEN
            RETURN NULL; -- this request is already verified in this workspace (a replayed or repeated verification): skip
        END IF;
    END IF;

    NEW.chain_seq := head_seq + 1;
    NEW.recorded_at := date_trunc('microseconds'::text, clock_timestamp());
    NEW.prev_hash := head_hash;
    NEW.row_hash := encode(sha256(convert_to(NEW.prev_hash || public.audit_canonical(NEW), 'UTF8'::name)), 'hex'::text);
    RETURN NEW;
END
$$;
