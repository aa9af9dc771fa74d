-- The audit trail (meta.AuditStore): append-only, independent of
-- repositories (events outlive what they describe). Times in unix
-- nanoseconds.
CREATE TABLE audit_events (
    id {{id}},
    at BIGINT NOT NULL,
    account_id {{ctext}} NOT NULL,
    repository {{ctext}} NOT NULL,
    action {{ctext}} NOT NULL,
    actor TEXT NOT NULL,
    digest {{ctext}} NOT NULL,
    tag TEXT NOT NULL,
    detail {{bytes}}
);
CREATE INDEX audit_events_repo ON audit_events (account_id, repository, id);
CREATE INDEX audit_events_at ON audit_events (at);
