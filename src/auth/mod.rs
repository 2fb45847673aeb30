//! Authentication: JWTs ([`tokens`]), request extractors ([`extract`]) and the
//! login, refresh, logout and password-change flows ([`session`]), and the
//! one-time tickets of the live stream ([`ticket`]).

pub mod extract;
pub mod known;
pub mod session;
pub mod ticket;
pub mod tokens;

pub use extract::{AuthUser, MaybeAuthUser, Writer};
