-- ECR lifecycle policies and the latest lifecycle policy preview of each
-- repository. Same conventions as 0001: portable between SQLite and
-- PostgreSQL, times in unix nanoseconds (0 means "never"). Rows go with
-- their repository (ON DELETE CASCADE).

CREATE TABLE lifecycle_policies (
    repo_id           BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text       TEXT NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_evaluated_at BIGINT NOT NULL DEFAULT 0
);

-- One row per repository: its latest preview. id increases with every
-- preview of the repository, so that a run that was replaced cannot write
-- its results over the newer one. results is JSON, opaque to the store.
CREATE TABLE lifecycle_previews (
    repo_id             BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    id                  BIGINT NOT NULL,
    policy_text         TEXT NOT NULL,
    as_of               BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETE', 'FAILED', 'EXPIRED')),
    started_at          BIGINT NOT NULL,
    finished_at         BIGINT NOT NULL DEFAULT 0,
    results             {{bytes}},
    expiring_count      BIGINT NOT NULL DEFAULT 0,
    transitioning_count BIGINT NOT NULL DEFAULT 0,
    bytes_freed         BIGINT NOT NULL DEFAULT 0,
    reason              TEXT NOT NULL DEFAULT ''
);
