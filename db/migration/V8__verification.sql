-- Verification that a person is gone from Customer.io (App API), recorded as its own step.
--
-- 1. A fourth step, VERIFY, with three outcomes:
--      VERIFIED       the App API answered 404 for the person: gone;
--      STILL_PRESENT  the person was still there at the verification deadline (a compliance incident);
--      UNVERIFIABLE   no App API key is configured, or no check got an answer before the deadline.
--    At most one VERIFY row per request id: a replayed verification is skipped, like a replayed outcome.
-- 2. The group-wide rate leases (rate_budget_lease) are kept per budget: 'track' (the Track API,
--    as before) and 'app' (the App API, 10 requests/s per workspace). Existing leases are Track's.
--
-- The chain's canonical form is unchanged (no column is added to audit_event), so a chain that
-- verified before this migration verifies after it.

ALTER TABLE public.audit_event DROP CONSTRAINT audit_event_step_check;
ALTER TABLE public.audit_event ADD CONSTRAINT audit_event_step_check
    CHECK (step IN ('SUPPRESS', 'DESTROY', 'OUTCOME', 'VERIFY'));
ALTER TABLE public.audit_event DROP CONSTRAINT outcome_matches_step;
ALTER TABLE public.audit_event ADD CONSTRAINT outcome_matches_step CHECK (
        (step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED', 'REJECTED', 'DUPLICATE', 'RETRY_SCHEDULED'))
        OR (step = 'VERIFY' AND outcome IN ('VERIFIED', 'STILL_PRESENT', 'UNVERIFIABLE'))
        OR (step IN ('SUPPRESS', 'DESTROY') AND outcome IN ('SUCCEEDED', 'FAILED')));

COMMENT ON COLUMN public.audit_event.step IS 'SUPPRESS / DESTROY: one Customer.io call (after retries); OUTCOME: the request''s outcome for this Kafka record; VERIFY: whether the App API still finds the person after a COMPLETED erasure (attempts = checks made).';

CREATE UNIQUE INDEX audit_event_one_verification_per_request
    ON public.audit_event (request_id) WHERE step = 'VERIFY';

-- The insert trigger of V4, with one rule added: a second VERIFY row for a request is skipped.
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

    IF NEW.step = 'VERIFY' AND EXISTS (
        SELECT 1 FROM public.audit_event e WHERE e.request_id = NEW.request_id AND e.step = 'VERIFY') THEN
        RETURN NULL; -- this request is already verified (a replayed or repeated verification): skip
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

-- Where each request's verification stands: the VERIFY row, or none yet.
CREATE VIEW public.erasure_verification_status AS
SELECT request_id, outcome AS verification, attempts AS checks, http_status, reason, occurred_at AS verified_at
  FROM public.audit_event
 WHERE step = 'VERIFY';

ALTER TABLE public.rate_budget_lease ADD COLUMN budget text NOT NULL DEFAULT 'track'
    CHECK (budget IN ('track', 'app'));
ALTER TABLE public.rate_budget_lease DROP CONSTRAINT rate_budget_lease_pkey;
ALTER TABLE public.rate_budget_lease ADD PRIMARY KEY (budget, instance);
COMMENT ON COLUMN public.rate_budget_lease.budget IS 'Which limit the lease is part of: track (Track API) or app (App API, verification).';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_auditor') THEN
        GRANT SELECT ON public.erasure_verification_status TO cio_erasure_auditor;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        GRANT SELECT ON public.erasure_verification_status TO cio_erasure_writer;
    END IF;
END
$$;
