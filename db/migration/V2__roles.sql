-- Least privilege for the audit trail.
--   cio_erasure_writer  : what the worker needs — INSERT and SELECT on audit_event, nothing else.
--   cio_erasure_auditor : SELECT only (audit_event and the views).
-- Both are group roles (NOLOGIN); grant them to login roles, e.g.
--   CREATE ROLE erasure_worker LOGIN PASSWORD '…' IN ROLE cio_erasure_writer;
-- The chain trigger runs as the table owner (SECURITY DEFINER), so the writer never needs any
-- right on audit_chain_head, and nobody but the owner can move the chain head.
-- The append-only triggers still stop UPDATE/DELETE/TRUNCATE for the owner itself.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        CREATE ROLE cio_erasure_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_auditor') THEN
        CREATE ROLE cio_erasure_auditor NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'cannot create roles cio_erasure_writer/cio_erasure_auditor (no CREATEROLE): ask a DBA to create them, then re-run the grants below';
END
$$;

ALTER FUNCTION audit_event_before_insert() SECURITY DEFINER;
ALTER FUNCTION audit_event_before_insert() SET search_path = pg_catalog, public;

REVOKE ALL ON audit_event, audit_chain_head FROM PUBLIC;
REVOKE ALL ON erasure_request_status, erasure_open_requests FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        GRANT USAGE ON SCHEMA public TO cio_erasure_writer;
        GRANT SELECT, INSERT ON audit_event TO cio_erasure_writer;
        GRANT USAGE ON SEQUENCE audit_event_id_seq TO cio_erasure_writer;
        GRANT SELECT ON erasure_request_status, erasure_open_requests TO cio_erasure_writer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_auditor') THEN
        GRANT USAGE ON SCHEMA public TO cio_erasure_auditor;
        GRANT SELECT ON audit_event, audit_chain_head, erasure_request_status, erasure_open_requests TO cio_erasure_auditor;
    END IF;
END
$$;
