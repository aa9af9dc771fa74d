-- The durable job queue (meta.JobStore). Times are unix nanoseconds, 0
-- meaning none. job_key is NULL for jobs that never deduplicate (NULLs do
-- not collide in a UNIQUE constraint on either engine). A completed job is
-- deleted, or kept with done_at set until keep_until to reserve its key.
CREATE TABLE jobs (
    id {{id}},
    kind TEXT NOT NULL,
    job_key {{ctext}} UNIQUE,
    payload {{bytes}},
    run_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    leased_by TEXT NOT NULL DEFAULT '',
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    done_at BIGINT NOT NULL DEFAULT 0,
    keep_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_due ON jobs (done_at, run_at, id);
