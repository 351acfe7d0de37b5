-- Several Customer.io workspaces (per brand, per data centre, staging copies): a request is erased
-- only when the person is gone from every workspace it names (or from all of them).
--
-- 1. A column, workspace: which workspace a SUPPRESS, DESTROY, WORKSPACE or VERIFY row is about.
--    NULL on the request's own OUTCOME rows, and on every row written before this migration:
--    those belong to the single workspace the worker served then (see docs/auditing.md).
-- 2. A fifth step, WORKSPACE: the request's final outcome in one workspace, SUCCEEDED (erased
--    there) or FAILED (DUPLICATE when it had already succeeded there). COMPLETED stays the
--    request's own outcome alone, so a count of COMPLETED rows still counts requests. At most one
--    SUCCEEDED per request and workspace; a replayed Kafka record's WORKSPACE row is skipped like its OUTCOME row. The
--    request's own OUTCOME keeps every rule it had: at most one COMPLETED per request id.
-- 3. One VERIFY row per request and workspace (was: per request).
-- 4. The canonical form of a row gains the workspace as a twentieth field, only when it is set:
--    every row written before this migration (workspace NULL) hashes exactly as before, so the
--    chain verifies across the migration, and a workspace cannot be added, removed or changed
--    without breaking its row's hash.
-- 5. Rate-budget leases are kept per workspace: 'track' and 'app' for the workspace named
--    'default' (as before, so instances of the previous version share them during an upgrade),
--    'track:<name>' and 'app:<name>' for any other.

ALTER TABLE public.audit_event ADD COLUMN workspace text
    CONSTRAINT workspace_is_a_name CHECK (workspace IS NULL OR workspace ~ '^[a-z0-9][a-z0-9_-]{0,31}$');
COMMENT ON COLUMN public.audit_event.workspace IS 'The Customer.io workspace a SUPPRESS, DESTROY, WORKSPACE or VERIFY row is about; NULL on the request''s own OUTCOME rows and on rows written before workspaces existed (the single workspace of that time).';

ALTER TABLE public.audit_event DROP CONSTRAINT audit_event_step_check;
ALTER TABLE public.audit_event ADD CONSTRAINT audit_event_step_check
    CHECK (step IN ('SUPPRESS', 'DESTROY', 'OUTCOME', 'VERIFY', 'WORKSPACE'));
ALTER TABLE public.audit_event DROP CONSTRAINT outcome_matches_step;
ALTER TABLE public.audit_event ADD CONSTRAINT outcome_matches_step CHECK (
        (step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED', 'REJECTED', 'DUPLICATE', 'RETRY_SCHEDULED'))
        OR (step = 'WORKSPACE' AND outcome IN ('SUCCEEDED', 'FAILED', 'DUPLICATE') AND workspace IS NOT NULL)
        OR (step = 'VERIFY' AND outcome IN ('VERIFIED', 'STILL_PRESENT', 'UNVERIFIABLE'))
        OR (step IN ('SUPPRESS', 'DESTROY') AND outcome IN ('SUCCEEDED', 'FAILED')));
COMMENT ON COLUMN public.audit_event.step IS 'SUPPRESS / DESTROY: one Customer.io call (after retries) in one workspace; WORKSPACE: the request''s final outcome in one workspace; OUTCOME: the request''s outcome for this Kafka record; VERIFY: whether the App API still finds the person in one workspace after it completed there (attempts = checks made).';

DROP INDEX public.audit_event_one_verification_per_request;
CREATE UNIQUE INDEX audit_event_one_verification_per_request_and_workspace
    ON public.audit_event (request_id, coalesce(workspace, '')) WHERE step = 'VERIFY';
CREATE UNIQUE INDEX audit_event_one_success_per_request_and_workspace
    ON public.audit_event (request_id, workspace) WHERE step = 'WORKSPACE' AND outcome = 'SUCCEEDED';
CREATE UNIQUE INDEX audit_event_one_workspace_outcome_per_record
    ON public.audit_event (kafka_topic, kafka_partition, kafka_offset, workspace) WHERE step = 'WORKSPACE';

-- The canonical form of V4 with the workspace appended when it is set.
CREATE OR REPLACE FUNCTION public.audit_canonical(e public.audit_event) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT public.audit_field(e.chain_seq::text) || public.audit_field(public.audit_micros(e.recorded_at))
        || public.audit_field(e.request_id) || public.audit_field(e.subject_hash) || public.audit_field(e.identifier_type)
        || public.audit_field(e.step) || public.audit_field(e.outcome) || public.audit_field(e.http_status::text)
        || public.audit_field(e.attempts::text) || public.audit_field(e.reason) || public.audit_field(e.regulation)
        || public.audit_field(public.audit_micros(e.requested_at)) || public.audit_field(public.audit_micros(e.deadline_at))
        || public.audit_field(e.requested_by) || public.audit_field(e.kafka_topic) || public.audit_field(e.kafka_partition::text)
        || public.audit_field(e.kafka_offset::text) || public.audit_field(e.worker_instance)
        || public.audit_field(public.audit_micros(e.occurred_at))
        || CASE WHEN e.workspace IS NULL THEN '' ELSE public.audit_field(e.workspace) END
$$;

-- The insert trigger of V8 with the workspace rules.
CREATE OR REPLACE FUNCTION public.audit_event_before_insert() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
    mine_seq  bigint;
    mine_hash text;
BEGIN
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

    IF NEW.step = 'WORKSPACE' AND NEW.kafka_topic IS NOT NULL AND EXISTS (
        SELECT 1 FROM public.audit_event e
         WHERE e.step = 'WORKSPACE' AND e.workspace = NEW.workspace AND e.kafka_topic = NEW.kafka_topic
           AND e.kafka_partition = NEW.kafka_partition AND e.kafka_offset = NEW.kafka_offset) THEN
        RETURN NULL; -- this Kafka record already has its outcome in this workspace (replay after a crash): skip
    END IF;

    IF NEW.step = 'VERIFY' AND EXISTS (
        SELECT 1 FROM public.audit_event e
         WHERE e.request_id = NEW.request_id AND e.step = 'VERIFY' AND e.workspace IS NOT DISTINCT FROM NEW.workspace) THEN
        RETURN NULL; -- this request is already verified in this workspace (a replayed or repeated verification): skip
    END IF;

    IF NEW.step = 'OUTCOME' AND NEW.outcome IN ('COMPLETED', 'FAILED') AND EXISTS (
        SELECT 1 FROM public.audit_event e
         WHERE e.request_id = NEW.request_id AND e.step = 'OUTCOME' AND e.outcome = 'COMPLETED') THEN
        NEW.reason := 'request was already completed; this outcome (' || NEW.outcome || ') recorded as duplicate';
        NEW.outcome := 'DUPLICATE';
    END IF;

    IF NEW.step = 'WORKSPACE' AND NEW.outcome IN ('SUCCEEDED', 'FAILED') AND EXISTS (
        SELECT 1 FROM public.audit_event e
         WHERE e.request_id = NEW.request_id AND e.step = 'WORKSPACE' AND e.workspace = NEW.workspace
           AND e.outcome = 'SUCCEEDED') THEN
        NEW.reason := 'request was already erased in this workspace; this outcome (' || NEW.outcome || ') recorded as duplicate';
        NEW.outcome := 'DUPLICATE';
    END IF;

    NEW.chain_seq := head_seq + 1;
    NEW.recorded_at := date_trunc('microseconds'::text, clock_timestamp());
    NEW.prev_hash := head_hash;
    NEW.row_hash := encode(sha256(convert_to(NEW.prev_hash || public.audit_canonical(NEW), 'UTF8'::name)), 'hex'::text);
    RETURN NEW;
END
$$;

-- Where each request stands in each workspace: SUCCEEDED when it was ever erased there, else the latest final outcome.
CREATE VIEW public.erasure_workspace_status AS
SELECT DISTINCT ON (request_id, workspace)
       request_id, workspace, outcome AS status, occurred_at AS status_at, reason
  FROM public.audit_event
 WHERE step = 'WORKSPACE' AND outcome <> 'DUPLICATE'
 ORDER BY request_id, workspace, (outcome = 'SUCCEEDED') DESC, chain_seq DESC;

-- V8's view with the workspace (NULL for verifications from before workspaces existed).
CREATE OR REPLACE VIEW public.erasure_verification_status AS
SELECT request_id, outcome AS verification, attempts AS checks, http_status, reason, occurred_at AS verified_at, workspace
  FROM public.audit_event
 WHERE step = 'VERIFY';

ALTER TABLE public.rate_budget_lease DROP CONSTRAINT rate_budget_lease_budget_check;
ALTER TABLE public.rate_budget_lease ADD CONSTRAINT rate_budget_lease_budget_check
    CHECK (budget ~ '^(track|app)(:[a-z0-9][a-z0-9_-]{0,31})?$');
COMMENT ON COLUMN public.rate_budget_lease.budget IS 'Which limit the lease is part of: track / app (Track / App API of the workspace named default), track:<workspace> / app:<workspace> (of another workspace).';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        GRANT INSERT (workspace) ON public.audit_event TO cio_erasure_writer;
        GRANT SELECT ON public.erasure_workspace_status, public.erasure_verification_status TO cio_erasure_writer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_auditor') THEN
        GRANT SELECT ON public.erasure_workspace_status, public.erasure_verification_status TO cio_erasure_auditor;
    END IF;
END
$$;
