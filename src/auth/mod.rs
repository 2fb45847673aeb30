//! Authentication: JWTs ([`tokens`]), request extractors ([`extract`]) and the
//! login, refresh, logout and password-change flows ([`session`]).

pub mod extract;
pub mod known;
pub mod session;
pub mod tokens;

pub use extract::{AuthUser, MaybeAuthUser, Writer};
