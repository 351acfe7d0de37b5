-- A cheaper append again, with the same guarantee about plans. Nothing an auditor sees changes:
-- the functions' bodies, the canonical form, the hashes, the rules and the chain are those of V10.
--
-- Since V3 the chain trigger planned each of its look-ups (the chain head, this transaction's last
-- row, the rule that a row's step needs) on every row (plan_cache_mode = force_custom_plan): a plan
-- cached while the audit table was nearly empty could be a sequential scan, and a long-lived
-- connection would then keep scanning the whole table on every append as it grows. Planning them
-- was about half of a row's cost (about 100 µs a row, 47 µs without it, measured on PostgreSQL 17
-- with 500 erasures of five rows per transaction).
--
-- Now each look-up is planned once per connection (force_generic_plan), with sequential and bitmap
-- scans ruled out (enable_seqscan, enable_bitmapscan off, for these two functions only): the only
-- plans left are index scans, whatever the table's size or statistics were when the plan was made.
-- Every look-up has its index (audit_chain_head_pkey, audit_event_chain_seq_key and the partial
-- unique indexes of the rules); ChainTriggerPlansIT checks that a connection that first appended
-- to an empty, analysed table looks everything up by index.
--
-- A later CREATE OR REPLACE of either function must repeat these settings (it replaces them).

ALTER FUNCTION public.audit_event_before_insert() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION public.audit_event_before_insert() SET enable_seqscan = off;
ALTER FUNCTION public.audit_event_before_insert() SET enable_bitmapscan = off;

ALTER FUNCTION public.audit_event_after_insert() SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION public.audit_event_after_insert() SET enable_seqscan = off;
ALTER FUNCTION public.audit_event_after_insert() SET enable_bitmapscan = off;
