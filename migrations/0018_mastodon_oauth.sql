-- The Mastodon API's OAuth 2: registered apps, authorization codes and tokens.
--
-- A token for a user is a pamps session: it belongs to a refresh-token family
-- (`session_id`, one row in refresh_tokens that is never rotated), so
-- whatever ends sessions (logout everywhere, a password change, a suspension,
-- account deletion, revoking the token) ends it too, and the
-- `refresh_tokens_session_end` trigger closes its live streams. Secrets are
-- stored as SHA-256 digests only.

CREATE TABLE oauth_apps (
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    name          text        NOT NULL,
    website       text,
    redirect_uris text[]      NOT NULL,
    scopes        text        NOT NULL,
    client_id     text        NOT NULL,
    client_secret text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT oauth_apps_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_apps_client_id_key UNIQUE (client_id)
);

CREATE TABLE oauth_codes (
    code_hash      bytea       NOT NULL,
    app_id         bigint      NOT NULL,
    user_id        bigint      NOT NULL,
    redirect_uri   text        NOT NULL,
    scopes         text        NOT NULL,
    code_challenge text,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    CONSTRAINT oauth_codes_pkey PRIMARY KEY (code_hash),
    CONSTRAINT oauth_codes_app_id_fkey FOREIGN KEY (app_id) REFERENCES oauth_apps (id) ON DELETE CASCADE,
    CONSTRAINT oauth_codes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE oauth_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    token_hash   bytea       NOT NULL,
    refresh_hash bytea,
    app_id       bigint      NOT NULL,
    -- Null for an app's own token (client_credentials).
    user_id      bigint,
    session_id   uuid,
    scopes       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CONSTRAINT oauth_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT oauth_tokens_refresh_hash_key UNIQUE (refresh_hash),
    CONSTRAINT oauth_tokens_app_id_fkey FOREIGN KEY (app_id) REFERENCES oauth_apps (id) ON DELETE CASCADE,
    CONSTRAINT oauth_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT oauth_tokens_user_session CHECK ((user_id IS NULL) = (session_id IS NULL))
);
-- The settings page's list of a user's app tokens.
CREATE INDEX oauth_tokens_user_idx ON oauth_tokens (user_id) WHERE revoked_at IS NULL;
