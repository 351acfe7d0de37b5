-- The append-only audit trail of every erasure outcome.
--
-- Contracts enforced here, by the database, not only by the worker:
--  * append-only: UPDATE, DELETE and TRUNCATE are rejected by triggers, even for the owner;
--  * tamper-evident: every row carries row_hash = sha256(prev_hash || canonical(row)), chained in
--    chain_seq order (see docs/auditing.md for the canonical form; `audit verify` re-computes it);
--  * one Kafka record yields at most one OUTCOME row (a replay after a crash is skipped);
--  * a request id is COMPLETED at most once: a later COMPLETED or FAILED for it becomes DUPLICATE.
--    (FAILED may repeat: an operator can replay a failed request from the DLQ after fixing the cause.)
-- No raw identifier is ever stored: subject_hash is HMAC-SHA256(AUDIT_SUBJECT_KEY, type ":" value).

CREATE TABLE audit_event (
    id               bigserial   PRIMARY KEY,
    chain_seq        bigint      NOT NULL UNIQUE,
    recorded_at      timestamptz NOT NULL,
    request_id       text,
    subject_hash     text,
    identifier_type  text,
    step             text        NOT NULL CHECK (step IN ('SUPPRESS', 'DESTROY', 'OUTCOME')),
    outcome          text        NOT NULL,
    http_status      integer,
    attempts         integer,
    reason           text,
    regulation       text        CHECK (regulation IN ('GDPR', 'CCPA')),
    requested_at     timestamptz,
    deadline_at      timestamptz,
    requested_by     text,
    kafka_topic      text,
    kafka_partition  integer,
    kafka_offset     bigint,
    worker_instance  text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    prev_hash        text        NOT NULL,
    row_hash         text        NOT NULL,
    CONSTRAINT outcome_matches_step CHECK (
        (step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED', 'REJECTED', 'DUPLICATE', 'RETRY_SCHEDULED'))
        OR (step <> 'OUTCOME' AND outcome IN ('SUCCEEDED', 'FAILED'))),
    CONSTRAINT subject_hash_is_hex CHECK (subject_hash IS NULL OR subject_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT identifier_type_known CHECK (identifier_type IS NULL OR identifier_type IN ('id', 'email', 'cio_id'))
);

COMMENT ON TABLE audit_event IS 'Append-only, hash-chained audit trail of Customer.io erasures. Never updated or deleted.';
COMMENT ON COLUMN audit_event.subject_hash IS 'HMAC-SHA256(AUDIT_SUBJECT_KEY, identifier_type || '':'' || normalised value), hex. The raw identifier is never stored.';
COMMENT ON COLUMN audit_event.step IS 'SUPPRESS / DESTROY: one Customer.io call (after retries); OUTCOME: the request''s outcome for this Kafka record.';
COMMENT ON COLUMN audit_event.occurred_at IS 'When the worker observed the outcome; recorded_at is when the database stored it.';

CREATE INDEX audit_event_request_id ON audit_event (request_id);
CREATE INDEX audit_event_subject_hash ON audit_event (subject_hash);
CREATE INDEX audit_event_occurred_at ON audit_event (occurred_at);
CREATE UNIQUE INDEX audit_event_one_outcome_per_record
    ON audit_event (kafka_topic, kafka_partition, kafka_offset) WHERE step = 'OUTCOME';
CREATE UNIQUE INDEX audit_event_one_completion_per_request
    ON audit_event (request_id) WHERE step = 'OUTCOME' AND outcome = 'COMPLETED';

-- The head of the hash chain: one row, locked by every inserting transaction until it commits,
-- so concurrent writers (several worker instances) append to one linear chain.
CREATE TABLE audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_seq   bigint  NOT NULL,
    last_hash  text    NOT NULL
);
INSERT INTO audit_chain_head VALUES (true, 0, repeat('0', 64));

-- Canonical text of a row for hashing: each field as <octet length>:<text>, NULL as ~,
-- timestamps as integer microseconds since the Unix epoch, in this fixed order.
CREATE FUNCTION audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END
$$;

CREATE FUNCTION audit_micros(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint::text
$$;

CREATE FUNCTION audit_canonical(e audit_event) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT audit_field(e.chain_seq::text) || audit_field(audit_micros(e.recorded_at))
        || audit_field(e.request_id) || audit_field(e.subject_hash) || audit_field(e.identifier_type)
        || audit_field(e.step) || audit_field(e.outcome) || audit_field(e.http_status::text)
        || audit_field(e.attempts::text) || audit_field(e.reason) || audit_field(e.regulation)
        || audit_field(audit_micros(e.requested_at)) || audit_field(audit_micros(e.deadline_at))
        || audit_field(e.requested_by) || audit_field(e.kafka_topic) || audit_field(e.kafka_partition::text)
        || audit_field(e.kafka_offset::text) || audit_field(e.worker_instance) || audit_field(audit_micros(e.occurred_at))
$$;

CREATE FUNCTION audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_chain_head%ROWTYPE;
BEGIN
    -- Serialise appenders first: the checks below must see every committed row.
    SELECT * INTO head FROM audit_chain_head WHERE singleton FOR UPDATE;

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

    NEW.chain_seq := head.last_seq + 1;
    NEW.recorded_at := date_trunc('microseconds', clock_timestamp());
    NEW.prev_hash := head.last_hash;
    NEW.row_hash := encode(sha256(convert_to(NEW.prev_hash || audit_canonical(NEW), 'UTF8')), 'hex');
    UPDATE audit_chain_head SET last_seq = NEW.chain_seq, last_hash = NEW.row_hash WHERE singleton;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_before_insert();

CREATE FUNCTION audit_event_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_reject_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_reject_change();
-- The chain head may only move forward through the insert trigger.
CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_reject_change();

-- What an auditor asks first: where does each request stand?
-- COMPLETED when it ever completed, else the latest outcome (DUPLICATE rows say nothing new).
CREATE VIEW erasure_request_status AS
SELECT DISTINCT ON (request_id)
       request_id, subject_hash, identifier_type, regulation, requested_by,
       requested_at, deadline_at,
       outcome                  AS status,
       occurred_at              AS status_at,
       outcome = 'COMPLETED'    AS erased,
       CASE WHEN outcome = 'COMPLETED' THEN occurred_at <= deadline_at END AS on_time
  FROM audit_event
 WHERE step = 'OUTCOME' AND request_id IS NOT NULL AND outcome <> 'DUPLICATE'
 ORDER BY request_id, (outcome = 'COMPLETED') DESC, chain_seq DESC;

-- Requests not (yet) erased: parked for retry, failed (needs a person), or rejected (awaiting a
-- corrected resubmission); oldest first.
CREATE VIEW erasure_open_requests AS
SELECT request_id, regulation, requested_at, deadline_at, status, status_at,
       now() - requested_at AS age,
       now() > deadline_at  AS overdue
  FROM erasure_request_status
 WHERE NOT erased
 ORDER BY requested_at NULLS LAST;
