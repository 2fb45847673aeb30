//! JWT access and refresh tokens: issuing and checking, no database here.

use chrono::{Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::SecuritySettings;
use crate::error::ApiError;

/// Seconds of clock skew tolerated when checking `exp`.
const LEEWAY_SECS: u64 = 5;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    AccessToken,
    RefreshToken,
}

/// The claims pamps signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The username, as in pamps.
    pub sub: String,
    /// The user id.
    pub uid: i64,
    pub exp: i64,
    pub iat: i64,
    pub scope: Scope,
    /// True only for an access token straight from a password login.
    pub fresh: bool,
    pub jti: Uuid,
    /// The session (refresh-token family) the token was issued in; absent
    /// in tokens signed before sessions existed. Live streams end with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// A signed token and the claims it carries.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

/// Signs and checks tokens with the configured secret.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl TokenService {
    /// Builds the service from `[security]` settings.
    pub fn new(settings: &SecuritySettings) -> Self {
        let secret = settings.secret_key.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl: Duration::minutes(settings.access_token_expire_minutes),
            refresh_ttl: Duration::minutes(settings.refresh_token_expire_minutes),
        }
    }

    /// Access token lifetime in seconds, reported as `expires_in`.
    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl.num_seconds()
    }

    /// Refresh token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// Signs a new access token in session `sid`.
    pub fn issue_access(
        &self,
        uid: i64,
        username: &str,
        fresh: bool,
        sid: Uuid,
    ) -> Result<Issued, ApiError> {
        self.issue(
            uid,
            username,
            Scope::AccessToken,
            fresh,
            (Uuid::new_v4(), sid),
            self.access_ttl,
        )
    }

    /// Signs a new refresh token with the given id (recorded in the
    /// database) in session `sid`.
    pub fn issue_refresh(
        &self,
        uid: i64,
        username: &str,
        jti: Uuid,
        sid: Uuid,
    ) -> Result<Issued, ApiError> {
        self.issue(
            uid,
            username,
            Scope::RefreshToken,
            false,
            (jti, sid),
            self.refresh_ttl,
        )
    }

    fn issue(
        &self,
        uid: i64,
        username: &str,
        scope: Scope,
        fresh: bool,
        (jti, sid): (Uuid, Uuid),
        ttl: Duration,
    ) -> Result<Issued, ApiError> {
        let now = Utc::now();
        let claims = Claims {
            sub: username.to_owned(),
            uid,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            scope,
            fresh,
            jti,
            sid: Some(sid),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))?;
        Ok(Issued { token, claims })
    }

    /// Checks signature, algorithm, expiry and scope. Every failure is the
    /// same 401, except a genuine access token past its expiry: that one says
    /// so ([`ApiError::TokenExpired`]), so a client knows to refresh.
    pub fn verify(&self, token: &str, scope: Scope) -> Result<Claims, ApiError> {
        let claims = match decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => data.claims,
            Err(e) if *e.kind() == ErrorKind::ExpiredSignature && scope == Scope::AccessToken => {
                // The signature was good; refuse other kinds as usual.
                return Err(match self.expired_scope(token) {
                    Some(Scope::AccessToken) => ApiError::TokenExpired,
                    _ => ApiError::bad_credentials(),
                });
            }
            Err(_) => return Err(ApiError::bad_credentials()),
        };
        if claims.scope != scope {
            return Err(ApiError::bad_credentials());
        }
        Ok(claims)
    }

    /// The scope of a correctly signed token whose only fault is its expiry.
    fn expired_scope(&self, token: &str) -> Option<Scope> {
        let mut validation = self.validation.clone();
        validation.validate_exp = false;
        decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims.scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use secrecy::SecretString;

    fn service(secret: &str) -> TokenService {
        TokenService::new(&SecuritySettings {
            secret_key: SecretString::from(secret.to_owned()),
            access_token_expire_minutes: 30,
            refresh_token_expire_minutes: 600,
            max_concurrent_hashes: 1,
            hash_wait_ms: 10,
        })
    }

    fn sign(claims: &serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn claims_json(scope: &str, exp_offset: i64) -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({"sub": "alice", "uid": 1, "iat": now, "exp": now + exp_offset,
            "scope": scope, "fresh": true, "jti": Uuid::new_v4()})
    }

    #[test]
    fn access_token_round_trips_with_its_claims() {
        let svc = service("s3cret-s3cret-s3cret-s3cret-s3cret");
        let issued = svc.issue_access(7, "alice", true, Uuid::new_v4()).unwrap();
        let claims = svc.verify(&issued.token, Scope::AccessToken).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!(
            (claims.uid, claims.sub.as_str(), claims.fresh),
            (7, "alice", true)
        );
        assert_eq!(claims.exp - claims.iat, 30 * 60);
    }

    #[test]
    fn tokens_of_the_wrong_kind_are_refused_both_ways() {
        let svc = service("s3cret-s3cret-s3cret-s3cret-s3cret");
        let access = svc
            .issue_access(1, "alice", false, Uuid::new_v4())
            .unwrap()
            .token;
        let refresh = svc
            .issue_refresh(1, "alice", Uuid::new_v4(), Uuid::new_v4())
            .unwrap()
            .token;
        assert!(svc.verify(&access, Scope::RefreshToken).is_err());
        assert!(svc.verify(&refresh, Scope::AccessToken).is_err());
        assert!(svc.verify(&refresh, Scope::RefreshToken).is_ok());
    }

    #[test]
    fn expired_beyond_leeway_is_refused_but_within_leeway_is_not() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
        let svc = service(secret);
        let expired = sign(&claims_json("access_token", -120), secret);
        assert!(svc.verify(&expired, Scope::AccessToken).is_err());
        let skewed = sign(&claims_json("access_token", -1), secret);
        assert!(svc.verify(&skewed, Scope::AccessToken).is_ok());
    }

    #[test]
    fn bad_signature_and_other_secret_are_refused() {
        let svc = service("s3cret-s3cret-s3cret-s3cret-s3cret");
        let other = sign(
            &claims_json("access_token", 60),
            "another-secret-another-secret-xx",
        );
        assert!(svc.verify(&other, Scope::AccessToken).is_err());
        let mut token = svc
            .issue_access(1, "alice", false, Uuid::new_v4())
            .unwrap()
            .token;
        let last = token.pop().unwrap();
        token.push(if last == 'A' { 'B' } else { 'A' });
        assert!(svc.verify(&token, Scope::AccessToken).is_err());
    }

    #[test]
    fn alg_none_and_missing_exp_are_refused() {
        let svc = service("s3cret-s3cret-s3cret-s3cret-s3cret");
        let payload = URL_SAFE_NO_PAD.encode(claims_json("access_token", 60).to_string());
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(
            svc.verify(&format!("{header}.{payload}."), Scope::AccessToken)
                .is_err()
        );

        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret";
        let mut claims = claims_json("access_token", 60);
        claims.as_object_mut().unwrap().remove("exp");
        assert!(
            svc.verify(&sign(&claims, secret), Scope::AccessToken)
                .is_err()
        );
    }

    #[test]
    fn garbage_is_refused() {
        let svc = service("s3cret-s3cret-s3cret-s3cret-s3cret");
        for token in ["", "abc", "a.b.c", "ey.ey.ey"] {
            assert!(svc.verify(token, Scope::AccessToken).is_err(), "{token}");
        }
    }
}
