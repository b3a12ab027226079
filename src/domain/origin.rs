//! Which origins a state-changing request may come from.

use std::net::{IpAddr, SocketAddr};

/// The origins a state-changing request may come from: the public URL's
/// when one is configured, otherwise the address the server listens on (and
/// `localhost` for a loopback address). Forwarded headers name an origin
/// only when the request comes from a configured trusted proxy; a client's
/// own `Host`, `X-Forwarded-Host` or `Forwarded` header never makes a
/// foreign origin acceptable.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    allowed: Vec<String>,
    /// Listening on every interface without a public URL: the request's own
    /// `Host` (never a forwarded one) is the only name there is.
    any_interface: bool,
    trusted_proxies: Vec<IpAddr>,
}

impl OriginPolicy {
    /// The policy of a server with this public origin and these trusted
    /// proxies, listening on `bound`.
    pub fn new(public_origin: Option<&str>, trusted_proxies: &[IpAddr], bound: SocketAddr) -> OriginPolicy {
        let mut allowed = Vec::new();
        let mut any_interface = false;
        match public_origin {
            Some(origin) => allowed.push(origin.to_string()),
            None if bound.ip().is_unspecified() => any_interface = true,
            None => {
                allowed.push(format!("http://{bound}"));
                if bound.ip().is_loopback() {
                    allowed.push(format!("http://localhost:{}", bound.port()));
                }
            }
        }
        OriginPolicy { allowed, any_interface, trusted_proxies: trusted_proxies.to_vec() }
    }

    /// Whether `origin` is this server's, for a request from `peer` with the
    /// `Host` header `host`; `forwarded` gives the origin the forwarded
    /// headers name (asked only for a trusted proxy).
    pub fn accepts(
        &self,
        origin: &str,
        peer: Option<IpAddr>,
        host: Option<&str>,
        forwarded: impl FnOnce() -> String,
    ) -> bool {
        if self.allowed.iter().any(|allowed| allowed == origin) {
            return true;
        }
        if peer.is_some_and(|ip| self.trusted_proxies.contains(&ip)) {
            return origin == forwarded();
        }
        self.any_interface && host.is_some_and(|host| origin == format!("http://{host}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_bound_address_and_localhost_on_loopback() {
        let policy = OriginPolicy::new(None, &[], addr("127.0.0.1:8080"));
        let peer = Some("127.0.0.1".parse().unwrap());
        assert!(policy.accepts("http://127.0.0.1:8080", peer, Some("evil.example"), || unreachable!()));
        assert!(policy.accepts("http://localhost:8080", peer, None, || unreachable!()));
        assert!(!policy.accepts("http://evil.example", peer, Some("evil.example"), || "http://evil.example".into()));
        assert!(!policy.accepts("http://127.0.0.1:9090", peer, None, || unreachable!()));
    }

    #[test]
    fn a_public_url_is_the_only_origin() {
        let policy = OriginPolicy::new(Some("https://tasks.example.com"), &[], addr("127.0.0.1:8080"));
        assert!(policy.accepts("https://tasks.example.com", None, None, || unreachable!()));
        assert!(!policy.accepts("http://127.0.0.1:8080", None, None, || unreachable!()));
    }

    #[test]
    fn forwarded_headers_count_from_trusted_proxies_only() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let policy = OriginPolicy::new(None, &[proxy], addr("10.0.0.5:8080"));
        let forwarded = || "https://tasks.example.com".to_string();
        assert!(policy.accepts("https://tasks.example.com", Some(proxy), None, forwarded));
        assert!(!policy.accepts("https://tasks.example.com", Some("10.0.0.9".parse().unwrap()), None, forwarded));
    }

    #[test]
    fn every_interface_trusts_the_request_host_only() {
        let policy = OriginPolicy::new(None, &[], addr("0.0.0.0:8080"));
        assert!(policy.accepts("http://tasks.lan:8080", None, Some("tasks.lan:8080"), || unreachable!()));
        assert!(!policy.accepts("http://evil.example", None, Some("tasks.lan:8080"), || "http://evil.example".into()));
    }
}
