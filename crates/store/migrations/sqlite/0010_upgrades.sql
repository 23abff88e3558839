-- Upgrade records (changeover-engine): one row per upgrade, the whole record as JSON.
-- `active_slot` is 'active' while the record holds the one-upgrade-at-a-time slot
-- (configuring, upgrading, terminating, rolling back) and NULL after: the unique
-- constraint lets at most one record hold it.
CREATE TABLE upgrades (
    id           TEXT PRIMARY KEY,
    platform     TEXT NOT NULL,
    from_version TEXT NOT NULL,
    to_version   TEXT NOT NULL,
    mode         TEXT NOT NULL,
    status       TEXT NOT NULL,
    active_slot  TEXT UNIQUE,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    record       TEXT NOT NULL
);
CREATE INDEX upgrades_created_at ON upgrades (created_at);
