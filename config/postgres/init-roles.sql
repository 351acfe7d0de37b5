-- Runs once, when the compose PostgreSQL volume is created (as the superuser).
-- The migration (V2, V4) grants the group roles their rights; these are the login roles that use them.
CREATE ROLE cio_erasure_writer NOLOGIN;
CREATE ROLE cio_erasure_auditor NOLOGIN;
\set worker_password `cat /run/secrets/worker_password`
CREATE ROLE erasure_worker LOGIN PASSWORD :'worker_password' IN ROLE cio_erasure_writer;
-- the login docs/auditing.md tells auditors to use (SELECT only)
\set auditor_password `cat /run/secrets/auditor_password`
CREATE ROLE dpo LOGIN PASSWORD :'auditor_password' IN ROLE cio_erasure_auditor;
