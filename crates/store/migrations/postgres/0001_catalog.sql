-- The version catalog: every uploaded version bundle, kept byte for byte.
-- Timestamps are UTC RFC 3339 text with fixed width (sortable as text).
CREATE TABLE catalog_version (
    platform       TEXT   NOT NULL,
    version        TEXT   NOT NULL,
    sort_key       TEXT   NOT NULL,
    file_name      TEXT   NOT NULL,
    format         TEXT   NOT NULL CHECK (format IN ('yaml', 'zip')),
    content        BYTEA  NOT NULL,
    size           BIGINT NOT NULL,
    md5            TEXT   NOT NULL,
    sha256         TEXT   NOT NULL,
    template_md5   TEXT,
    manifest       TEXT   NOT NULL,
    uploaded_at    TEXT   NOT NULL,
    overwritten_at TEXT,
    PRIMARY KEY (platform, version)
);
CREATE INDEX catalog_version_order ON catalog_version (platform, sort_key);
