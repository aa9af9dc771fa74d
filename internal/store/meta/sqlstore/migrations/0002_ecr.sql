-- ECR control plane: repository policy and scanning filter, IAM users and
-- their inline policies, resource tags, registry policies, account settings
-- and repository creation templates. Same conventions as 0001: portable
-- between SQLite and PostgreSQL, times in unix nanoseconds.

ALTER TABLE repositories ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN scan_filter TEXT NOT NULL DEFAULT '';

-- The empty name is the account's root principal (access_keys.user_name),
-- never a user.
CREATE TABLE users (
    account_id TEXT NOT NULL,
    name       {{ctext}} NOT NULL CHECK (name <> ''),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE user_policies (
    account_id TEXT NOT NULL,
    user_name  {{ctext}} NOT NULL,
    name       {{ctext}} NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (account_id, user_name, name),
    FOREIGN KEY (account_id, user_name) REFERENCES users (account_id, name) ON DELETE CASCADE
);

CREATE INDEX access_keys_user ON access_keys (account_id, user_name, access_key_id);

-- Keyed by ARN, which the store does not derive: rows outlive the resource
-- unless the caller deletes them.
CREATE TABLE resource_tags (
    arn       TEXT NOT NULL,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (arn, tag_key)
);

CREATE TABLE registry_policies (
    account_id TEXT PRIMARY KEY,
    document   TEXT NOT NULL
);

CREATE TABLE account_settings (
    account_id TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE creation_templates (
    account_id TEXT NOT NULL,
    prefix     {{ctext}} NOT NULL,
    body       {{bytes}},
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, prefix)
);
