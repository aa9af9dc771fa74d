-- Open vulnerability data (meta.VulnStore): OSV advisories as imported
-- (the document opaque, compressed by internal/scan/vulndb), the package
-- keys they affect for targeted loading, and the import sources. Times in
-- unix nanoseconds, 0 meaning none.
CREATE TABLE vuln_advisories (
    id {{ctext}} PRIMARY KEY,
    modified BIGINT NOT NULL,
    withdrawn BIGINT NOT NULL DEFAULT 0,
    source {{ctext}} NOT NULL,
    imported_at BIGINT NOT NULL,
    data {{bytes}} NOT NULL
);
CREATE INDEX vuln_advisories_source ON vuln_advisories (source);
CREATE TABLE vuln_packages (
    ecosystem {{ctext}} NOT NULL,
    name {{ctext}} NOT NULL,
    advisory_id {{ctext}} NOT NULL REFERENCES vuln_advisories (id),
    PRIMARY KEY (ecosystem, name, advisory_id)
);
CREATE INDEX vuln_packages_advisory ON vuln_packages (advisory_id);
CREATE TABLE vuln_sources (
    name {{ctext}} PRIMARY KEY,
    path TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    added BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    older BIGINT NOT NULL DEFAULT 0,
    invalid BIGINT NOT NULL DEFAULT 0
);
