-- The platforms being managed: the version running now and its configuration values
-- (a JSON object of key -> value), used to warn when a bundle's values differ.
CREATE TABLE platform (
    name            TEXT NOT NULL PRIMARY KEY,
    current_version TEXT,
    running_values  TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
