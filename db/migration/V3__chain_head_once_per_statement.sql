-- Faster chain appends: the chain head row was updated once per inserted row, so a batch of N
-- rows in one transaction left N versions of that row for every later row to walk past
-- (quadratic in the batch). Now the first row of a transaction locks the head (as before) and
-- the running head travels in transaction-local settings from row to row; the head row is
-- written once per INSERT statement. The chain, its canonical form and every guarantee are
-- unchanged: concurrent writers still wait for the head lock, so there is one linear chain.
--
-- Also: the look-ups in the trigger are planned for the table as it is now (plan_cache_mode =
-- force_custom_plan). A plan cached while the table was nearly empty (a sequential scan) would
-- otherwise stay in use by a long-lived connection as the table grows, making every append
-- slower than the one before.

CREATE OR REPLACE FUNCTION audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, public SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
BEGIN
    IF coalesce(current_setting('cio_erasure.head_txid', true), '') = txid_current()::text THEN
        head_seq := current_setting('cio_erasure.head_seq')::bigint;
        head_hash := current_setting('cio_erasure.head_hash');
    ELSE
        -- first row of this transaction: serialise with every other appender until commit
        SELECT last_seq, last_hash INTO head_seq, head_hash FROM audit_chain_head WHERE singleton FOR UPDATE;
    END IF;

    IF NEW.step = 'OUTCOME' AND NEW.kafka_topic IS NOT NULL AND EXISTS (
        SELECT 1 FROM audit_event
         WHERE step = 'OUTCOME' AND kafka_topic = NEW.kafka_topic
           AND kafka_partition = NEW.kafka_partition AND kafka_offset = NEW.kafka_offset) THEN
        RETURN NULL; -- this Kafka record already has its outcome (replay after a crash): skip
    END IF;

    IF NEW.step = 'OUTCOME' AND NEW.outcome IN ('COMPLETED', 'FAILED') AND EXISTS (
        SELECT 1 FROM audit_event
         WHERE request_id = NEW.request_id AND step = 'OUTCOME' AND outcome = 'COMPLETED') THEN
        NEW.reason := 'request was already completed; this outcome (' || NEW.outcome || ') recorded as duplicate';
        NEW.outcome := 'DUPLICATE';
    END IF;

    NEW.chain_seq := head_seq + 1;
    NEW.recorded_at := date_trunc('microseconds', clock_timestamp());
    NEW.prev_hash := head_hash;
    NEW.row_hash := encode(sha256(convert_to(NEW.prev_hash || audit_canonical(NEW), 'UTF8')), 'hex');
    PERFORM set_config('cio_erasure.head_txid', txid_current()::text, true);
    PERFORM set_config('cio_erasure.head_seq', NEW.chain_seq::text, true);
    PERFORM set_config('cio_erasure.head_hash', NEW.row_hash, true);
    RETURN NEW;
END
$$;

-- Moves the stored head to where this transaction's rows left it, once per statement.
CREATE FUNCTION audit_event_after_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF coalesce(current_setting('cio_erasure.head_txid', true), '') = txid_current()::text THEN
        UPDATE audit_chain_head
           SET last_seq = current_setting('cio_erasure.head_seq')::bigint,
               last_hash = current_setting('cio_erasure.head_hash')
         WHERE singleton AND last_seq < current_setting('cio_erasure.head_seq')::bigint;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER audit_event_chain_head AFTER INSERT ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_after_insert();
