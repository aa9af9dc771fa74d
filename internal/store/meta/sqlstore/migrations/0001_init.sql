-- Initial schema. Portable between SQLite and PostgreSQL: the {{id}},
-- {{bytes}} and {{ctext}} tokens are substituted by the dialect. Times are
-- unix nanoseconds (UTC) in BIGINT columns; 0 means "never".
-- {{ctext}} (TEXT COLLATE "C" on PostgreSQL, TEXT on SQLite) is the type of
-- every text column that is ordered or compared with < or > (names, tags,
-- ids and digests listed in order or paged by "after"), and of the columns
-- that reference one: their order is byte order on both engines, whatever
-- the database's locale. (On SQLite the substituted statements are the same
-- as before the token was used there, so existing databases are unchanged.)
-- Statements are separated by a semicolon at the end of a line.

CREATE TABLE accounts (
    id         {{ctext}} PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE access_keys (
    access_key_id {{ctext}} PRIMARY KEY,
    secret        TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    user_name     TEXT NOT NULL DEFAULT '',
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE INDEX access_keys_account ON access_keys (account_id);

CREATE TABLE repositories (
    id              {{id}},
    account_id      TEXT NOT NULL,
    name            {{ctext}} NOT NULL,
    created_at      BIGINT NOT NULL,
    tag_mutability  TEXT NOT NULL DEFAULT '',
    mutability_rule TEXT NOT NULL DEFAULT '',
    scan_on_push    BOOLEAN NOT NULL DEFAULT FALSE,
    encryption_type TEXT NOT NULL DEFAULT '',
    kms_key         TEXT NOT NULL DEFAULT '',
    UNIQUE (account_id, name)
);

CREATE TABLE blobs (
    digest     {{ctext}} PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'live' CHECK (state IN ('live', 'deleting'))
);

CREATE INDEX blobs_state_created ON blobs (state, created_at);

CREATE TABLE repo_blobs (
    repo_id   BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest    {{ctext}} NOT NULL REFERENCES blobs (digest),
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (repo_id, digest)
);

CREATE INDEX repo_blobs_digest ON repo_blobs (digest);
CREATE INDEX repo_blobs_linked_at ON repo_blobs (linked_at);

CREATE TABLE manifests (
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
    PRIMARY KEY (repo_id, digest)
);

CREATE INDEX manifests_subject ON manifests (repo_id, subject, digest);

CREATE TABLE manifest_refs (
    repo_id         BIGINT NOT NULL,
    manifest_digest {{ctext}} NOT NULL,
    ref_digest      {{ctext}} NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (repo_id, manifest_digest, kind, ref_digest),
    FOREIGN KEY (repo_id, manifest_digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);

CREATE INDEX manifest_refs_ref ON manifest_refs (ref_digest);
CREATE INDEX manifest_refs_repo_ref ON manifest_refs (repo_id, ref_digest, kind);

CREATE TABLE tags (
    repo_id    BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name       {{ctext}} NOT NULL,
    digest     {{ctext}} NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest)
);

CREATE INDEX tags_digest ON tags (repo_id, digest);

CREATE TABLE tag_events (
    id          {{id}},
    repo_id     BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    from_digest TEXT NOT NULL DEFAULT '',
    to_digest   TEXT NOT NULL DEFAULT '',
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    via         TEXT NOT NULL DEFAULT ''
);

CREATE INDEX tag_events_tag ON tag_events (repo_id, tag, id);

-- "offset" is reserved in PostgreSQL.
CREATE TABLE uploads (
    id            {{ctext}} PRIMARY KEY,
    repo_id       BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    upload_offset BIGINT NOT NULL,
    hash_state    {{bytes}},
    started_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE INDEX uploads_repo ON uploads (repo_id);
CREATE INDEX uploads_updated ON uploads (updated_at);
