-- Image archive, pull-time update exclusions and lifecycle runs. Same
-- conventions as 0001: portable between SQLite and PostgreSQL, times in
-- unix nanoseconds (0 means "never").

-- ECR's imageStatus (ACTIVE, ARCHIVED, ACTIVATING), lastArchivedAt and
-- lastActivatedAt. An archived image keeps its row and references, so its
-- blobs stay: only pulls are refused.
ALTER TABLE manifests ADD COLUMN image_status TEXT NOT NULL DEFAULT 'ACTIVE';
ALTER TABLE manifests ADD COLUMN archived_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN activated_at BIGINT NOT NULL DEFAULT 0;

-- Principals whose pulls do not update lastRecordedPullTime, per registry.
CREATE TABLE pull_time_exclusions (
    account_id    {{ctext}} NOT NULL,
    principal_arn {{ctext}} NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, principal_arn)
);

-- The lifecycle run in progress of each repository: what the policy decided
-- (one row per image acted on) and how far the run got, so that a run that
-- died is resumed and acts on, and audits, each image once. id increases
-- across all plans, so that a run holding an old plan cannot touch a newer
-- one.
CREATE TABLE lifecycle_plans (
    id          {{id}},
    repo_id     BIGINT NOT NULL UNIQUE REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text TEXT NOT NULL,
    as_of       BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE lifecycle_plan_actions (
    plan_id       BIGINT NOT NULL REFERENCES lifecycle_plans (id) ON DELETE CASCADE,
    digest        {{ctext}} NOT NULL,
    seq           INTEGER NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('EXPIRE', 'TRANSITION')),
    rule_priority BIGINT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '',
    image_status  TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped')),
    PRIMARY KEY (plan_id, digest)
);
