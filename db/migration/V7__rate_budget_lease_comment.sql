-- The lease timing moved out of the schema's words: renewal every 200 ms, valid 1 s, shared in
-- proportion to each instance's backlog (GroupRateBudget, docs/operations.md "Rate limit").
-- V6's comment named the old timing (250 ms). Comment only: nothing else changes.

COMMENT ON TABLE public.rate_budget_lease IS 'Each worker instance''s lease of the group-wide Track rate limit (GroupRateBudget; docs/operations.md, "Rate limit").';
COMMENT ON COLUMN public.rate_budget_lease.want IS 'Slots of the arrival window the instance could use now: occupied + 25 % + 2 per record of its backlog.';
COMMENT ON COLUMN public.rate_budget_lease.held IS 'Slots the instance may use (at least those it occupies); the rows never hold more than the limit together.';
