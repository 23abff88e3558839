-- Named lease locks. A holder keeps its lease by renewing it before expires_at; an expired
-- lease is taken over by the next acquirer, so a killed holder never leaves it stuck.
-- generation grows by one on every new holder (a fencing token).
CREATE TABLE lease (
    name         TEXT   NOT NULL PRIMARY KEY,
    holder       TEXT   NOT NULL,
    generation   BIGINT NOT NULL,
    acquired_at  TEXT   NOT NULL,
    heartbeat_at TEXT   NOT NULL,
    expires_at   TEXT   NOT NULL
);
