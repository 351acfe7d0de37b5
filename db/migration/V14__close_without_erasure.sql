-- Closing a request without erasing anybody, as a recorded decision.
--
-- A request that is REJECTED (its message broke the contract) or FAILED stays open until it is
-- erased: erasure_open_requests lists it, erasure_open_overdue counts it once its deadline passes,
-- and ErasureRequestOverdue fires for as long as it stays so. Some of them will never be erased,
-- rightly: a test message with a real-looking request id, an identifier no person has, a request
-- the controller refused (GDPR Art. 12(5)) or the person withdrew. Until now the only way to close
-- one was to resubmit it "corrected", which records an erasure that never concerned anybody, or
-- to silence the alert, which hides the next overdue request too.
--
-- Now a person in the role cio_erasure_closer can append one OUTCOME row CLOSED to such a request,
-- through public.close_request (the command `close`), with who decided and why:
--  * only through the function: the role has no right on the table, so it cannot append any
--    other row; the function runs as the table's owner and takes the chain head's lock first, so
--    it sees every row committed before it, and a request erased meanwhile is not closed;
--  * only a request whose status is REJECTED or FAILED: not one that was erased, not one still
--    being worked on (RETRY_SCHEDULED), not one closed already;
--  * the row copies the request's own columns (subject hash, regulation, times) from its latest
--    outcome, names the login that ran it in worker_instance ('close by <login>', its name cut at
--    any @: a login named by an email address leaves only what comes before it) and says
--    'closed without erasure by <who>: <why>' in reason; the chain covers it like any row;
--  * a closed request leaves erasure_open_requests; erasure_request_status shows it CLOSED, not
--    erased. Submitted again, it is processed as any request is, and its new outcome stands.

ALTER TABLE public.audit_event DROP CONSTRAINT outcome_matches_step;
ALTER TABLE public.audit_event ADD CONSTRAINT outcome_matches_step CHECK (
        (step = 'OUTCOME' AND outcome IN ('COMPLETED', 'FAILED', 'REJECTED', 'DUPLICATE', 'RETRY_SCHEDULED', 'CLOSED'))
        OR (step = 'WORKSPACE' AND outcome IN ('SUCCEEDED', 'FAILED', 'DUPLICATE') AND workspace IS NOT NULL)
        OR (step = 'VERIFY' AND outcome IN ('VERIFIED', 'STILL_PRESENT', 'UNVERIFIABLE'))
        OR (step IN ('SUPPRESS', 'DESTROY') AND outcome IN ('SUCCEEDED', 'FAILED')));

CREATE OR REPLACE VIEW public.erasure_open_requests AS
SELECT request_id, regulation, requested_at, deadline_at, status, status_at,
       now() - requested_at AS age,
       now() > deadline_at  AS overdue
  FROM public.erasure_request_status
 WHERE NOT erased AND status <> 'CLOSED'
 ORDER BY requested_at NULLS LAST;

-- SQLStates of its refusals (class CE, "cio-erasure"): CE001 no such request, CE002 erased,
-- CE003 not closable now (its status is in the message), CE004 a decision or a name that is not
-- acceptable (the message says which rule).
CREATE FUNCTION public.close_request(p_request_id text, p_decided_by text, p_why text) RETURNS bigint
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
REVOKE ALL ON FUNCTION public.close_request(text, text, text) FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_closer') THEN
        CREATE ROLE cio_erasure_closer NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot create role cio_erasure_closer (no CREATEROLE): ask a DBA to create it, then re-run the grants below';
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_closer') THEN
        GRANT USAGE ON SCHEMA public TO cio_erasure_closer;
        GRANT EXECUTE ON FUNCTION public.close_request(text, text, text) TO cio_erasure_closer;
    END IF;
END
$$;
