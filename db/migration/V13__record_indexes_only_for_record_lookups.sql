-- The two "one row per Kafka record" indexes narrowed to rows that carry a Kafka record, so that
-- the chain trigger's look-up of a request's completion can no longer be planned through them.
--
-- The trigger plans its look-ups once per connection (V11: generic plans). A connection that does
-- so while the audit table holds a few rows and has never been analysed (a new install, for up to
-- a minute, until autovacuum's first analysis) saw PostgreSQL's default estimates cost two plans
-- for "has this request completed?" the same:
--  * audit_event_one_completion_per_request, looked up by request_id (one row at most); and
--  * audit_event_one_outcome_per_record walked from end to end, every outcome in the table read
--    and filtered on request_id: usable because the look-up's step = 'OUTCOME' is that index's
--    predicate.
-- It took the walk (the older index wins a tie), and kept it until the table was analysed: each
-- outcome appended read every outcome before it. Benchmark runs on a fresh database sank to 256-384
-- erasures a second, 317-592/s over the run instead of about 1,180/s, and came back the moment
-- autovacuum analysed the table (docs/benchmarks-by-hand.md, "The sinking run, found"). The
-- WORKSPACE look-ups had the same pair of candidates and escaped only by the order in which V9
-- happened to create them.
--
-- A look-up by record always names the record (kafka_topic = ..., which implies kafka_topic IS
-- NOT NULL), so it can still use these indexes; a look-up by request never does, so no estimate
-- can send it through them. What the indexes enforce does not change: rows without a topic never
-- conflicted in them (NULLs are distinct in a unique index).
--
-- Each index is rebuilt over the rows of its step while this migration holds the table's lock:
-- appends wait until it commits (0.7 s for a table of 1,000,000 rows on PostgreSQL 17). Appending
-- costs the same as under V12 (pgbench, 125 rows a transaction: 159.8 against 160.1 a second).

DROP INDEX public.audit_event_one_outcome_per_record;
CREATE UNIQUE INDEX audit_event_one_outcome_per_record
    ON public.audit_event (kafka_topic, kafka_partition, kafka_offset)
    WHERE step = 'OUTCOME' AND kafka_topic IS NOT NULL;

DROP INDEX public.audit_event_one_workspace_outcome_per_record;
CREATE UNIQUE INDEX audit_event_one_workspace_outcome_per_record
    ON public.audit_event (kafka_topic, kafka_partition, kafka_offset, workspace)
    WHERE step = 'WORKSPACE' AND kafka_topic IS NOT NULL;
