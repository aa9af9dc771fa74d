-- Targeted rescans and scan eligibility (meta.ScanStore).
-- scan_key_sets: the compact set of vulnerability data keys an
-- inventory's packages are matched by (encoded by internal/scan; no row:
-- unknown, an inventory stored before this migration), so that a rescan
-- after an import skips the inventories it did not touch without reading
-- them. A table of its own rather than a column of scan_inventories: on
-- SQLite a column after the inventory's data would be read through the
-- data's overflow pages.
-- expired_at: when the image's continuous scanning lapsed (neither pushed
-- nor pulled within the account's scan durations; 0: eligible).
CREATE TABLE scan_key_sets (
    digest  {{ctext}} PRIMARY KEY REFERENCES scan_inventories (digest) ON DELETE CASCADE,
    key_set {{bytes}} NOT NULL
);
ALTER TABLE image_scans ADD COLUMN expired_at BIGINT NOT NULL DEFAULT 0;
-- A rescan lists a repository's completed scans by digest with their
-- expiry marks and request times: from this index alone, not from rows
-- whose findings (before expired_at, a later column) SQLite would read
-- through.
CREATE INDEX image_scans_rematch ON image_scans (repo_id, status, digest, expired_at, requested_at);
