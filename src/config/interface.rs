//! Where the server listens and how workers reach it. `interface` names a network interface,
//! as in dask-jobqueue (`ib0`, `eth0`): the server listens on that interface's address and
//! gives it to its workers. `host` is an address (dask-jobqueue's `scheduler_options` `host`):
//! `0.0.0.0`, the default, listens on every interface and is reached by this machine's name.

use std::net::IpAddr;

use super::Config;

/// The address the server binds to, and the one workers are told to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub bind: String,
    pub advertise: String,
}

/// Whether `text` is an address, not an interface name (`10.0.0.5`, `::`).
pub fn is_address(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

/// Where the server of `config` listens, given this machine's interfaces (name, addresses)
/// and its host name; an interface that does not exist, or has no address, is an error naming
/// those that do.
pub fn listen_address(
    config: &Config,
    interfaces: &[(String, Vec<IpAddr>)],
    hostname: &str,
) -> Result<Listen, String> {
    let Some(name) = &config.interface else {
        let any = matches!(config.host.as_str(), "0.0.0.0" | "::" | "");
        return Ok(Listen {
            bind: config.host.clone(),
            advertise: if any {
                hostname.to_string()
            } else {
                config.host.clone()
            },
        });
    };
    let names: Vec<String> = interfaces.iter().map(|(n, _)| format!("`{n}`")).collect();
    let Some((_, addrs)) = interfaces.iter().find(|(n, _)| n == name) else {
        return Err(format!(
            "interface `{name}` does not exist on this machine (`{hostname}`): its interfaces \
             are {}; set `interface` to one of them, or `host` to an address to listen on",
            names.join(", ")
        ));
    };
    // An IPv4 address where there is one: that is what compute nodes route to most often.
    let Some(ip) = addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()) else {
        return Err(format!(
            "interface `{name}` has no IP address on this machine (`{hostname}`): set \
             `interface` to one that has (its interfaces are {}), or `host` to an address",
            names.join(", ")
        ));
    };
    Ok(Listen {
        bind: ip.to_string(),
        advertise: ip.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Vec<(String, Vec<IpAddr>)> {
        vec![
            ("lo".into(), vec![IpAddr::from([127, 0, 0, 1])]),
            (
                "ib0".into(),
                vec!["fe80::1".parse().unwrap(), IpAddr::from([10, 1, 2, 3])],
            ),
            ("eth1".into(), vec![]),
        ]
    }

    fn config(interface: Option<&str>, host: &str) -> Config {
        Config {
            interface: interface.map(String::from),
            host: host.into(),
            ..Config::default()
        }
    }

    #[test]
    fn an_interface_is_its_ipv4_address() {
        let l = listen_address(&config(Some("ib0"), "0.0.0.0"), &machine(), "login1").unwrap();
        assert_eq!(l.bind, "10.1.2.3");
        assert_eq!(l.advertise, "10.1.2.3");
    }

    #[test]
    fn without_an_interface_the_host_address_is_bound() {
        let any = listen_address(&config(None, "0.0.0.0"), &machine(), "login1").unwrap();
        assert_eq!(
            (any.bind.as_str(), any.advertise.as_str()),
            ("0.0.0.0", "login1")
        );
        let one = listen_address(&config(None, "10.1.2.3"), &machine(), "login1").unwrap();
        assert_eq!(one.advertise, "10.1.2.3");
    }

    #[test]
    fn an_unknown_interface_names_those_that_exist() {
        let e = listen_address(&config(Some("ib1"), "0.0.0.0"), &machine(), "login1").unwrap_err();
        assert_eq!(
            e,
            "interface `ib1` does not exist on this machine (`login1`): its interfaces are \
             `lo`, `ib0`, `eth1`; set `interface` to one of them, or `host` to an address to \
             listen on"
        );
        let e = listen_address(&config(Some("eth1"), "0.0.0.0"), &machine(), "login1").unwrap_err();
        assert!(e.starts_with("interface `eth1` has no IP address"), "{e}");
    }
}
