-- Image scanning (meta.ScanStore): the package inventory of each scanned
-- manifest and the latest scan of each image. Same conventions as 0001:
-- portable between SQLite and PostgreSQL, times in unix nanoseconds (0
-- meaning never). Inventories are content-addressed by manifest digest and
-- shared by repositories; a scan goes with its image (ON DELETE CASCADE
-- from manifests, so with its repository too). data and findings are
-- encoded by internal/scan, opaque here.
CREATE TABLE scan_inventories (
    digest     {{ctext}} PRIMARY KEY,
    version    TEXT NOT NULL,
    data       {{bytes}} NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE image_scans (
    repo_id           BIGINT NOT NULL,
    digest            {{ctext}} NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETE', 'FAILED', 'UNSUPPORTED_IMAGE')),
    description       TEXT NOT NULL DEFAULT '',
    requested_at      BIGINT NOT NULL,
    completed_at      BIGINT NOT NULL DEFAULT 0,
    source_updated_at BIGINT NOT NULL DEFAULT 0,
    n_critical        INTEGER NOT NULL DEFAULT 0,
    n_high            INTEGER NOT NULL DEFAULT 0,
    n_medium          INTEGER NOT NULL DEFAULT 0,
    n_low             INTEGER NOT NULL DEFAULT 0,
    n_informational   INTEGER NOT NULL DEFAULT 0,
    n_undefined       INTEGER NOT NULL DEFAULT 0,
    findings_hash     TEXT NOT NULL DEFAULT '',
    findings          {{bytes}},
    PRIMARY KEY (repo_id, digest),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests (repo_id, digest) ON DELETE CASCADE
);

-- PruneInventories looks scans up by digest alone.
CREATE INDEX image_scans_digest ON image_scans (digest);
