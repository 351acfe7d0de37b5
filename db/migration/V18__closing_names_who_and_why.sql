-- Who closed a request, and why, must say something.
--
-- close_request (V14, V15) took a `decided_by` and a `why` of spaces only: a CLOSED row, a decision
-- an auditor is shown, naming nobody and giving no reason (`close R --by " " --why " "` closed R).
-- Now each must hold a character that is not a space of any kind (the ASCII ones, the no-break and
-- the other Unicode spaces, spelt out because [[:space:]] reads the database's locale); the
-- function is otherwise V15's. The command `close` checks the same before it connects. The database
-- is UTF8 (migrate and the worker refuse another), so the \u escapes name those characters.
-- No row is rewritten and no lock is taken that makes appends wait.

CREATE OR REPLACE FUNCTION public.close_request(p_request_id text, p_decided_by text, p_why text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    latest public.audit_event;
    seq    bigint;
BEGIN
    IF p_decided_by IS NULL OR length(p_decided_by) NOT BETWEEN 1 AND 200 OR p_decided_by ~ '[[:cntrl:]@]'
       OR p_decided_by !~ '[^[:space:]\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]' THEN
        RAISE EXCEPTION 'who decided must be 1-200 characters, not only spaces, without control characters or @ (a team or ticket reference, not an email address)'
            USING ERRCODE = 'CE004';
    END IF;
    IF p_why IS NULL OR length(p_why) NOT BETWEEN 1 AND 500 OR p_why ~ '[[:cntrl:]@]'
       OR p_why !~ '[^[:space:]\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]' THEN
        RAISE EXCEPTION 'why must be 1-500 characters, not only spaces, without control characters or @ (no email address: the audit table holds no identifier)'
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
