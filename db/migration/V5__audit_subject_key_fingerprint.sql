-- Which AUDIT_SUBJECT_KEY the subject hashes in this table were made with, as a fingerprint:
-- HMAC-SHA256(key, 'cio-erasure audit subject key fingerprint v1'), hex. Never the key itself,
-- and the fingerprint does not help to guess it.
--
-- The first worker that starts records it; a worker with another key refuses to start, and
-- `audit find` refuses to search with another key (it would answer "no requests" for a person
-- who was erased). Like the audit trail it is never changed or removed.

CREATE TABLE public.audit_subject_key (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint  text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE public.audit_subject_key IS 'Fingerprint of AUDIT_SUBJECT_KEY (an HMAC of a fixed label, never the key); written once.';

CREATE TRIGGER audit_subject_key_no_change BEFORE UPDATE OR DELETE ON public.audit_subject_key
    FOR EACH ROW EXECUTE FUNCTION public.audit_event_reject_change();
CREATE TRIGGER audit_subject_key_no_truncate BEFORE TRUNCATE ON public.audit_subject_key
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_event_reject_change();

REVOKE ALL ON public.audit_subject_key FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        GRANT SELECT ON public.audit_subject_key TO cio_erasure_writer;
        GRANT INSERT (fingerprint) ON public.audit_subject_key TO cio_erasure_writer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_auditor') THEN
        GRANT SELECT ON public.audit_subject_key TO cio_erasure_auditor;
    END IF;
END
$$;
