-- The Track rate limit is one budget for the whole consumer group (Customer.io counts per
-- workspace). Each worker instance leases part of it here: `held` slots of the arrival window
-- (see ArrivalWindow), renewed every 250 ms, expiring 2 s after the last renewal. An instance
-- changes only its own row, under a transaction-scoped advisory lock, and only so that the rows
-- never hold more than the limit together (GroupRateBudget). Not part of the audit trail.

CREATE TABLE public.rate_budget_lease (
    instance    text        PRIMARY KEY,
    held        integer     NOT NULL CHECK (held >= 0),
    want        integer     NOT NULL CHECK (want >= 0),
    renewed_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

COMMENT ON TABLE public.rate_budget_lease IS 'Each worker instance''s lease of the group-wide Track rate limit; renewed every 250 ms.';

REVOKE ALL ON public.rate_budget_lease FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_writer') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.rate_budget_lease TO cio_erasure_writer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cio_erasure_auditor') THEN
        GRANT SELECT ON public.rate_budget_lease TO cio_erasure_auditor;
    END IF;
END
$$;
