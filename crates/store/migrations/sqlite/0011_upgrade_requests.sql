-- Operator requests to the changeover driving an upgrade (changeover-engine), made from
-- another process: today `stop` of a running data-update task (`target` is its name).
-- Kept apart from the record, whose whole JSON the driver saves, so no save loses one.
-- The driver polls them, acts, and deletes the row.
CREATE TABLE upgrade_requests (
    upgrade_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (upgrade_id, kind, target)
);
