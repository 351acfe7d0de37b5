-- A record rejected REQUEST_ID_REUSED is not its request id's outcome.
--
-- Such a row (OUTCOME, REJECTED, reason 'REQUEST_ID_REUSED: …', written by the worker since the
-- release of V14) is another identifier's record sent under the id of a request that already has a
-- final outcome: the request is what it was, and that other person was not erased (the dead-letter
-- topic and its alert track them, as they track a message without a valid request id).
-- Until now the view took the reuse's row as the latest outcome of a request that was not erased:
-- a FAILED request read REJECTED in erasure_request_status, audit report and erasure_open_requests,
-- with the other person's subject hash and the reuse's time as its status time, and close_request
-- copied that other person's subject hash into the CLOSED row it wrote for the request.
--
-- Now the view, and so erasure_open_requests, and close_request leave those rows out, as `audit
-- status` and receipts already did: a request reads its own latest outcome. The worker's deadline
-- tracker (OpenRequests) applies the same rule to the rows it reads since its last refresh.
-- The row is told by its outcome and its reason's code, both written only by the worker: the
-- closer's reason begins 'closed without erasure by', and no other reason begins with this code.

CREATE OR REPLACE VIEW public.erasure_request_status AS
SELECT DISTINCT ON (request_id)
       request_id, subject_hash, identifier_type, regulation, requested_by,
       requested_at, deadline_at,
       outcome                  AS status,
       occurred_at              AS status_at,
       outcome = 'COMPLETED'    AS erased,
       CASE WHEN outcome = 'COMPLETED' THEN occurred_at <= deadline_at END AS on_time
  FROM public.audit_event
 WHERE step = 'OUTCOME' AND request_id IS NOT NULL AND outcome <> 'DUPLICATE'
   AND (outcome = 'REJECTED' AND reason LIKE 'REQUEST\_ID\_REUSED:%') IS NOT TRUE
 ORDER BY request_id, (outcome = 'COMPLETED') DESC, chain_seq DESC;

CREATE OR REPLACE FUNCTION public.close_request(p_request_id text, p_decided_by text, p_why text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    latest public.audit_event;
    seq    bigint;
BEGIN
    IF p_decided_by IS NULL OR length(p_decided_by) NOT BETWEEN 1 AND 200 OR p_decided_by ~ '[[:cntrl:]@]' THEN
        RAISE EXCEPTION 'who decided must be 1-200 characters, without control characters or @ (a team or ticket reference, not an email address)'
            USING ERRCODE = 'CE004';
    END IF;
    IF p_why IS NULL OR length(p_why) NOT BETWEEN 1 AND 500 OR p_why ~ '[[:cntrl:]@]' THEN
        RAISE EXCEPTION 'why must be 1-500 characters, without control characters or @ (no email address: the audit table holds no identifier)'
            USING ERRCODE = 'CE004';
    END IF;
    -- every appender holds this lock until it commits: past it, every row written before is seen
    PERFORM 1 FROM public.audit_chain_head FOR UPDATE;
    SELECT * INTO latest FROM public.audit_event
     WHERE request_id = p_request_id AND step = 'OUTCOME' AND outcome <> 'DUPLICATE'
       AND (outcome = 'REJECTED' AND reason LIKE 'REQUEST\_ID\_REUSED:%') IS NOT TRUE
     ORDER BY (outcome = 'COMPLETED') DESC, chain_seq DESC LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no outcome recorded for this request id' USING ERRCODE = 'CE001';
    END IF;
    IF latest.outcome = 'COMPLETED' THEN
        RAISE EXCEPTION 'the request was erased (COMPLETED, row %)', latest.chain_seq USING ERRCODE = 'CE002';
    END IF;
    IF latest.outcome NOT IN ('REJECTED', 'FAILED') THEN
        RAISE EXCEPTION '%', latest.outcome USING ERRCODE = 'CE003';
    END IF;
    INSERT INTO public.audit_event (request_id, subject_hash, identifier_type, step, outcome, reason, regulation, requested_at,
                                    deadline_at, requested_by, worker_instance, occurred_at)
    VALUES (latest.request_id, latest.subject_hash, latest.identifier_type, 'OUTCOME', 'CLOSED',
            'closed without erasure by ' || p_decided_by || ': ' || p_why, latest.regulation, latest.requested_at,
            latest.deadline_at, latest.requested_by, 'close by ' || regexp_replace(session_user, '[@[:cntrl:]].*$', ''),
            date_trunc('microseconds', clock_timestamp()))
    RETURNING chain_seq INTO seq;
    RETURN seq;
END
$$;
