-- Targeted rescans and scan eligibility (meta.ScanStore).
-- key_set: the compact set of vulnerability data keys an inventory's
-- packages are matched by (encoded by internal/scan; NULL: unknown, an
-- inventory stored before this migration), so that a rescan after an
-- import skips inventories the import did not touch without reading them.
-- expired_at: when the image's continuous scanning lapsed (neither pushed
-- nor pulled within the account's scan durations; 0: eligible).
ALTER TABLE scan_inventories ADD COLUMN key_set {{bytes}};
ALTER TABLE image_scans ADD COLUMN expired_at BIGINT NOT NULL DEFAULT 0;
