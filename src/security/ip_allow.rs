//! The `ip_allow` kind: the peer's address must fall in one of the listed networks.
//!
//! Only the address of the TCP peer counts. `X-Forwarded-For` is never trusted, because any
//! client can write it.

use std::net::IpAddr;

use ipnet::IpNet;

use super::Failure;
use super::config::IpAllowConfig;

#[derive(Debug)]
pub struct IpAllowCheck {
    networks: Vec<IpNet>,
}

impl IpAllowCheck {
    pub fn build(config: &IpAllowConfig) -> Result<Self, String> {
        if config.cidrs.is_empty() {
            return Err("`cidrs`: give at least one network".to_string());
        }
        let networks = config
            .cidrs
            .iter()
            .map(|text| parse_network(text.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpAllowCheck { networks })
    }

    pub fn check(&self, peer: IpAddr) -> Result<(), Failure> {
        if contains(&self.networks, peer) {
            Ok(())
        } else {
            Err(Failure::NoMatch(format!(
                "peer {peer} is in none of the allowed networks"
            )))
        }
    }
}

/// True when `peer` falls in one of `networks`.
pub(super) fn contains(networks: &[IpNet], peer: IpAddr) -> bool {
    let peer = canonical(peer);
    networks.iter().any(|net| net.contains(&peer))
}

pub(super) fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    text.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("`cidrs`: {text:?} is not a network such as \"10.0.0.0/8\" or an address such as \"192.0.2.1\"")
    })
}

/// An IPv4 client reaching a dual-stack socket shows up as `::ffff:a.b.c.d`; treat it as IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::expand::Text;

    fn check(cidrs: &[&str]) -> Result<IpAllowCheck, String> {
        IpAllowCheck::build(&IpAllowConfig {
            cidrs: cidrs.iter().map(|c| Text(c.to_string())).collect(),
        })
    }

    #[test]
    fn allows_listed_networks_only() {
        let allow = check(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).unwrap();
        assert!(allow.check("10.1.2.3".parse().unwrap()).is_ok());
        assert!(allow.check("192.0.2.7".parse().unwrap()).is_ok());
        assert!(allow.check("::ffff:10.9.9.9".parse().unwrap()).is_ok());
        assert!(allow.check("2001:db8::1".parse().unwrap()).is_ok());
        assert!(allow.check("192.0.2.8".parse().unwrap()).is_err());
        assert!(allow.check("127.0.0.1".parse().unwrap()).is_err());
    }

    #[test]
    fn bad_cidr_is_named() {
        let err = check(&["10.0.0.0/33"]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
    }
}
