-- Compose only (first start of an empty data volume): the role audit runs as. It owns nothing;
-- audit's migration (as the owner, DATABASE_MIGRATION_URL) grants it exactly INSERT and SELECT on
-- the evidence (docs/audit.md), and audit refuses to start if it can do more
-- (AUDIT_REQUIRE_LEAST_PRIVILEGE). Production creates its roles itself (docs/deployment.md).
CREATE ROLE provisio_audit_app LOGIN PASSWORD 'provisio-audit';
