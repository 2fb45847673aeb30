-- Live streams end with the session behind them.
--
-- A stream belongs to a session: the refresh-token family its access token
-- (or ticket) was issued in. The session ends when its family is revoked
-- (logout, a password change, a replayed refresh token) or its user is
-- deleted; every instance then closes the streams of that session at once.
-- The signal is a NOTIFY on `pamps_sessions`, sent by these triggers in the
-- transaction that ends the session, so it is delivered exactly when the
-- change commits, from whatever made it (the API, the CLI, an administrator's
-- SQL). Payloads: `user:<id>` (every stream of the user) or
-- `session:<family uuid>`. A lost notification (an instance's listening
-- connection dropped) is covered by a sweep on reconnect: see
-- src/bus/sessions.rs.
--
-- Suspending an account, when it exists, is one more column in the users
-- trigger below (`AFTER UPDATE OF password_hash, suspended_at`) plus the same
-- check at admission.

-- The session a ticket was issued in (null: a token from before sessions).
ALTER TABLE stream_tickets ADD COLUMN session_id uuid;

CREATE FUNCTION users_signal_session_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pamps_sessions', 'user:' || OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER users_session_end_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_signal_session_end();
CREATE TRIGGER users_session_end_password AFTER UPDATE OF password_hash ON users
    FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION users_signal_session_end();

-- One notification per family: PostgreSQL folds identical payloads sent in
-- one transaction.
CREATE FUNCTION refresh_tokens_signal_session_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pamps_sessions', 'session:' || NEW.family_id);
    RETURN NULL;
END $$;

CREATE TRIGGER refresh_tokens_session_end AFTER UPDATE OF revoked_at ON refresh_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION refresh_tokens_signal_session_end();
