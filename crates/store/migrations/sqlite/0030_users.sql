-- Users of the changeover server (changeover-server): a role, an argon2 password hash
-- (PHC string), and API tokens stored only as the SHA-256 of the token (hex).
CREATE TABLE users (
    name          TEXT NOT NULL PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE TABLE user_tokens (
    token_sha256 TEXT NOT NULL PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX user_tokens_user ON user_tokens (user_name);
