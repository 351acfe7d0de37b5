-- What `close` announces on the outcome topic, for a ticketing or DSR platform to close its ticket.
--
-- The command `close` runs as a login in cio_erasure_closer, which may call close_request and
-- read nothing: so it could not tell the platform what it had closed, and a closed request never
-- reached the outcome topic (the platform's ticket stayed at REJECTED or FAILED for good). This
-- function gives that role the announceable columns of a request's CLOSED row, and nothing else:
-- no subject hash, no identifier type, no worker or Kafka coordinates; only while the request's
-- status is CLOSED (a request submitted again and erased since is not announced as closed).

CREATE FUNCTION public.closed_request_event(p_request_id text)
    RETURNS TABLE (regulation text, requested_at timestamptz, deadline_at timestamptz, occurred_at timestamptz, reason text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.regulation::text, s.requested_at, s.deadline_at, e.occurred_at, e.reason::text
      FROM public.erasure_request_status s
      JOIN public.audit_event e ON e.request_id = s.request_id AND e.step = 'OUTCOME' AND e.outcome = 'CLOSED'
     WHERE s.request_id = p_request_id AND s.status = 'CLOSED'
     ORDER BY e.chain_seq DESC
     LIMIT 1
$$;
REVOKE ALL ON FUNCTION public.closed_request_event(text) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_closer') THEN
        GRANT EXECUTE ON FUNCTION public.closed_request_event(text) TO cio_erasure_closer;
    END IF;
END
$$;
