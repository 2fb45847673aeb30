//! `[metrics]`: the Prometheus endpoint, on a listener of its own.

use serde::Deserialize;

use super::ConfigError;

/// `[metrics]`: the Prometheus endpoint, on a listener of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// `address:port` of the metrics listener; never the public port.
    pub listen: String,
}

impl MetricsSettings {
    /// The listener's address.
    pub(super) fn addr(&self) -> Result<std::net::SocketAddr, ConfigError> {
        self.listen.trim().parse().map_err(|_| {
            ConfigError(format!(
                "metrics.listen: {:?} is not an address:port like 127.0.0.1:9464",
                self.listen
            ))
        })
    }
}
