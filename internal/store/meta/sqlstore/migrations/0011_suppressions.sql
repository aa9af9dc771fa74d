-- Finding suppressions (meta.SuppressionStore). A suppression is keyed by
-- what it suppresses: account, repository ('*' for every repository of the
-- account), finding id, package ('' any) and image digest ('' any). Times
-- in unix nanoseconds.
CREATE TABLE finding_suppressions (
    account_id {{ctext}} NOT NULL,
    repository {{ctext}} NOT NULL,
    finding_id {{ctext}} NOT NULL,
    package_name {{ctext}} NOT NULL,
    image_digest {{ctext}} NOT NULL,
    justification TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, repository, finding_id, package_name, image_digest)
);
