-- Tag history paging, the recycle bin and the platform guard
-- (meta.HistoryStore). Same conventions as 0001: portable between SQLite
-- and PostgreSQL, times in unix nanoseconds.

-- Paging through every tag's events of a repository, newest first, and
-- finding when a tag was last moved to an image (sinceImageTagged).
CREATE INDEX tag_events_repo ON tag_events (repo_id, id);
CREATE INDEX tag_events_to ON tag_events (repo_id, to_digest, at);

-- A deleted image, restorable until expires_at: the manifests row as it
-- was (with its archive state, migration 0007), the tags it had (a JSON array of names) and who deleted it.
CREATE TABLE bin_images (
    repo_id       BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        {{ctext}} NOT NULL,
    media_type    TEXT NOT NULL DEFAULT '',
    artifact_type TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    config_digest TEXT NOT NULL DEFAULT '',
    size          BIGINT NOT NULL,
    content       {{bytes}},
    annotations   {{bytes}},
    pushed_at     BIGINT NOT NULL,
    last_pull_at  BIGINT NOT NULL DEFAULT 0,
    image_status  TEXT NOT NULL DEFAULT 'ACTIVE',
    archived_at   BIGINT NOT NULL DEFAULT 0,
    activated_at  BIGINT NOT NULL DEFAULT 0,
    tags          TEXT NOT NULL DEFAULT '[]',
    deleted_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    deleted_by    TEXT NOT NULL DEFAULT '',
    via           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (repo_id, digest)
);

CREATE INDEX bin_images_expires ON bin_images (expires_at);
CREATE INDEX bin_images_deleted ON bin_images (deleted_at, repo_id, digest);

-- The references of binned manifests (moved from manifest_refs): GC keeps
-- every blob they name, and the links of their repository.
CREATE TABLE bin_refs (
    repo_id         BIGINT NOT NULL,
    manifest_digest {{ctext}} NOT NULL,
    ref_digest      {{ctext}} NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (repo_id, manifest_digest, kind, ref_digest),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES bin_images (repo_id, digest) ON DELETE CASCADE
);

CREATE INDEX bin_refs_ref ON bin_refs (ref_digest);
CREATE INDEX bin_refs_repo_ref ON bin_refs (repo_id, ref_digest, kind);

CREATE TABLE platform_guards (
    repo_id    BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    enabled    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);
