//! The `v6fwd route|neigh|addr|link|stats|reload` commands: words in the habits of
//! iproute2 turned into requests, and replies turned into text.

use std::fmt::Write;
use std::net::Ipv6Addr;

use super::{Reply, Request, RouteMatch, RouteRow};
use crate::config::RouteSpec;

/// Route types other than `unicast`, as iproute2 names them.
const REJECTS: [&str; 3] = ["blackhole", "unreachable", "prohibit"];

/// `route ...`
///
/// # Errors
/// What is wrong with the words.
pub fn route(words: &[String]) -> Result<Request, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [] | ["show" | "list" | "ls"] => Ok(Request::RouteShow),
        ["show" | "list" | "ls", rest @ ..] => {
            let prefix = match rest {
                [p] | ["root", p] => prefix_word(p),
                _ => return Err("usage: route show [[root] PREFIX]".into()),
            };
            Ok(Request::RouteShowWithin { prefix })
        }
        ["get", addr] => Ok(Request::RouteGet {
            address: addr
                .parse()
                .map_err(|_| format!("{addr:?} is not an IPv6 address"))?,
        }),
        ["get", ..] => Err("usage: route get ADDRESS".into()),
        ["add", rest @ ..] => Ok(Request::RouteAdd(route_spec(rest)?)),
        ["replace", rest @ ..] => {
            let (prefix, paths) = replace_paths(rest)?;
            Ok(Request::RouteReplace { prefix, paths })
        }
        ["del" | "delete", rest @ ..] => Ok(Request::RouteDel(route_match(rest)?)),
        [other, ..] => Err(format!(
            "route {other:?}: the route commands are show, get, add, replace and del"
        )),
    }
}

/// `[TYPE] PREFIX [via ADDRESS] [dev PORT] [metric N] [pref low|medium|high]`
fn route_spec(w: &[&str]) -> Result<RouteSpec, String> {
    let (action, w) = match w {
        [t, rest @ ..] if REJECTS.contains(t) => (Some((*t).to_owned()), rest),
        ["unicast", rest @ ..] => (None, rest),
        _ => (None, w),
    };
    let [prefix, rest @ ..] = w else {
        return Err(
            "usage: route add [blackhole|unreachable|prohibit] PREFIX [via ADDRESS] \
                    [dev PORT] [metric N] [pref low|medium|high]"
                .into(),
        );
    };
    let mut spec = RouteSpec {
        prefix: prefix_word(prefix),
        action,
        ..RouteSpec::default()
    };
    for (key, value) in pairs(rest)? {
        match key {
            "via" => spec.via = Some(value.to_owned()),
            "dev" => spec.port = Some(value.to_owned()),
            "metric" => spec.metric = Some(number(key, value)?),
            "pref" | "preference" => spec.preference = Some(value.to_owned()),
            _ => {
                return Err(format!("{key:?}: a route takes via, dev, metric and pref"));
            }
        }
    }
    Ok(spec)
}

/// `PREFIX [via ADDRESS] [dev PORT] [metric N] [pref P]`, or `PREFIX [metric N]
/// nexthop via ADDRESS [dev PORT] nexthop ...` for several paths.
fn replace_paths(w: &[&str]) -> Result<(String, Vec<RouteSpec>), String> {
    let Some(first_hop) = w.iter().position(|x| *x == "nexthop") else {
        let spec = route_spec(w)?;
        return Ok((spec.prefix.clone(), vec![spec]));
    };
    let common = route_spec(&w[..first_hop])?;
    if common.action.is_some() {
        return Err("a reject route has no nexthop".into());
    }
    let mut paths = Vec::new();
    for hop in w[first_hop..].split(|x| *x == "nexthop").skip(1) {
        let mut spec = common.clone();
        for (key, value) in pairs(hop)? {
            match key {
                "via" => spec.via = Some(value.to_owned()),
                "dev" => spec.port = Some(value.to_owned()),
                _ => return Err(format!("{key:?}: a nexthop takes via and dev")),
            }
        }
        paths.push(spec);
    }
    Ok((common.prefix.clone(), paths))
}

/// `PREFIX [via ADDRESS] [dev PORT] [metric N]`
fn route_match(w: &[&str]) -> Result<RouteMatch, String> {
    let w = match w {
        [t, rest @ ..] if REJECTS.contains(t) || *t == "unicast" => rest,
        _ => w,
    };
    let [prefix, rest @ ..] = w else {
        return Err("usage: route del PREFIX [via ADDRESS] [dev PORT] [metric N]".into());
    };
    let mut m = RouteMatch {
        prefix: prefix_word(prefix),
        ..RouteMatch::default()
    };
    for (key, value) in pairs(rest)? {
        match key {
            "via" => m.via = Some(value.to_owned()),
            "dev" => m.port = Some(value.to_owned()),
            "metric" => m.metric = Some(number(key, value)?),
            _ => return Err(format!("{key:?}: route del takes via, dev and metric")),
        }
    }
    Ok(m)
}

/// `default` is `::/0`, and an address alone a host route, as in iproute2.
fn prefix_word(w: &str) -> String {
    if w == "default" {
        "::/0".into()
    } else if !w.contains('/') && w.parse::<Ipv6Addr>().is_ok() {
        format!("{w}/128")
    } else {
        w.to_owned()
    }
}

fn pairs<'a>(w: &[&'a str]) -> Result<Vec<(&'a str, &'a str)>, String> {
    if w.len() % 2 == 1 {
        return Err(format!("{:?} needs a value", w[w.len() - 1]));
    }
    Ok(w.chunks(2).map(|c| (c[0], c[1])).collect())
}

fn number(key: &str, value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("{key} {value:?}: not a number from 0 to 4294967295"))
}

/// `neigh ...`
///
/// # Errors
/// What is wrong with the words.
pub fn neigh(words: &[String]) -> Result<Request, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [] | ["show" | "list" | "ls"] => Ok(Request::NeighShow),
        ["add" | "replace", address, rest @ ..] => {
            let (mut lladdr, mut port) = (None, None);
            for (key, value) in pairs(rest)? {
                match key {
                    "lladdr" => lladdr = Some(value.to_owned()),
                    "dev" => port = Some(value.to_owned()),
                    // Every neighbor added by hand is permanent.
                    "nud" if value == "permanent" => {}
                    _ => return Err(format!("{key:?}: neigh add takes lladdr and dev")),
                }
            }
            Ok(Request::NeighAdd {
                address: (*address).to_owned(),
                lladdr: lladdr.ok_or("neigh add needs lladdr MAC")?,
                port,
            })
        }
        ["del" | "delete", address, rest @ ..] => Ok(Request::NeighDel {
            address: (*address).to_owned(),
            port: dev_only("neigh del", rest)?,
        }),
        ["flush", "all"] | ["flush"] => Ok(Request::NeighFlush { port: None }),
        ["flush", rest @ ..] => Ok(Request::NeighFlush {
            port: dev_only("neigh flush", rest)?,
        }),
        [other, ..] => Err(format!(
            "neigh {other:?}: the neigh commands are show, add ADDRESS lladdr MAC [dev PORT], \
             del ADDRESS [dev PORT] and flush [dev PORT]"
        )),
    }
}

/// `addr ...`
///
/// # Errors
/// What is wrong with the words.
pub fn addr(words: &[String]) -> Result<Request, String> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [] | ["show" | "list" | "ls"] => Ok(Request::AddrShow),
        [verb @ ("add" | "del" | "delete"), address, rest @ ..] => {
            let port = dev_only("addr", rest)?.ok_or("name the port: dev PORT")?;
            let address = (*address).to_owned();
            Ok(if *verb == "add" {
                Request::AddrAdd { address, port }
            } else {
                Request::AddrDel { address, port }
            })
        }
        [other, ..] => Err(format!(
            "addr {other:?}: the addr commands are show, add ADDRESS/LENGTH dev PORT and del \
             ADDRESS dev PORT"
        )),
    }
}

/// `[dev PORT]`
fn dev_only(what: &str, w: &[&str]) -> Result<Option<String>, String> {
    match w {
        [] => Ok(None),
        ["dev", port] => Ok(Some((*port).to_owned())),
        _ => Err(format!(
            "{what}: {:?}: only dev PORT may follow",
            w.join(" ")
        )),
    }
}

/// `link ...`: only show.
///
/// # Errors
/// Another subcommand.
pub fn link(words: &[String]) -> Result<Request, String> {
    match words.first().map(String::as_str) {
        None | Some("show" | "list" | "ls") if words.len() <= 1 => Ok(Request::LinkShow),
        _ => Err(format!(
            "link {}: only link show is offered",
            words.join(" ")
        )),
    }
}

/// A reply as text, for people.
pub fn text(reply: &Reply) -> String {
    let mut s = String::new();
    match reply {
        Reply::Done(what) => {
            let _ = writeln!(s, "{what}");
        }
        Reply::Reloaded(changes) if changes.is_empty() => {
            s.push_str("reloaded: no route changed\n");
        }
        Reply::Reloaded(changes) => {
            for c in changes {
                let _ = writeln!(s, "reloaded: {c}");
            }
        }
        Reply::Routes(rows) => {
            for r in rows {
                let _ = writeln!(s, "{}", route_line(r));
            }
        }
        Reply::Route(got) => {
            for r in &got.routes {
                let _ = writeln!(s, "{}", route_line(r));
            }
            for p in &got.selected {
                let _ = write!(s, "{} {}", got.address, p.kind);
                if let Some(v) = p.via {
                    let _ = write!(s, " via {v}");
                }
                if let Some(d) = &p.dev {
                    let _ = write!(s, " dev {d}");
                }
                s.push_str(" selected\n");
            }
        }
        Reply::Neighbors(rows) => {
            for n in rows {
                let _ = write!(s, "{} dev {}", n.address, n.dev);
                if let Some(l) = &n.lladdr {
                    let _ = write!(s, " lladdr {l}");
                }
                if n.router {
                    s.push_str(" router");
                }
                let _ = write!(s, " {}", n.state);
                if let Some(c) = n.core {
                    let _ = write!(s, " core {c}");
                }
                s.push('\n');
            }
        }
        Reply::Addresses(rows) => {
            for a in rows {
                let _ = writeln!(s, "{}:", a.dev);
                for x in &a.addresses {
                    let _ = writeln!(s, "    inet6 {x}");
                }
                for x in &a.tentative {
                    let _ = writeln!(s, "    inet6 {x} tentative");
                }
                for x in &a.refused {
                    let _ = writeln!(s, "    inet6 {x} dadfailed (refused)");
                }
            }
        }
        Reply::Links(rows) => {
            for l in rows {
                let _ = writeln!(
                    s,
                    "{}: {}: mtu {} state {} speed {}Mb/s\n    link/ether {} device {}",
                    l.port_id,
                    l.name,
                    l.mtu,
                    if l.up { "UP" } else { "DOWN" },
                    l.speed_mbps,
                    l.mac,
                    l.device
                );
                let t = &l.stats;
                let _ = writeln!(
                    s,
                    "    RX: packets {} bytes {} missed {} errors {} nombuf {}\n    TX: packets {} bytes {} errors {}",
                    t.rx_packets,
                    t.rx_bytes,
                    t.rx_missed,
                    t.rx_errors,
                    t.rx_nombuf,
                    t.tx_packets,
                    t.tx_bytes,
                    t.tx_errors
                );
            }
        }
        Reply::Stats(st) => {
            let _ = writeln!(
                s,
                "up {:.1} s; {} prefixes; routes: {}",
                st.uptime_s,
                st.prefixes,
                st.routes
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                s,
                "neighbors: {}",
                st.neighbors
                    .iter()
                    .filter(|(_, v)| **v > 0)
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                s,
                "{:<8} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8}",
                "lcore", "rx", "forwarded", "replied", "tx", "dropped", "busy %"
            );
            for c in &st.cores {
                let total = c.busy_seconds + c.empty_seconds + c.sleep_seconds;
                let busy = if total > 0.0 {
                    100.0 * c.busy_seconds / total
                } else {
                    0.0
                };
                let _ = writeln!(
                    s,
                    "{:<8} {:>12} {:>12} {:>12} {:>12} {:>10} {:>8.1}",
                    c.lcore, c.rx, c.forwarded, c.replied, c.tx, c.dropped, busy
                );
            }
            let _ = writeln!(s, "drops by reason:");
            let mut any = false;
            for (name, n) in st.drops.iter().filter(|(_, n)| **n > 0) {
                let _ = writeln!(s, "    {name:<24} {n}");
                any = true;
            }
            if !any {
                s.push_str("    none\n");
            }
            for l in &st.links {
                let t = &l.stats;
                let _ = writeln!(
                    s,
                    "port {}: rx {} tx {} missed {} rx_errors {} tx_errors {}",
                    l.name, t.rx_packets, t.tx_packets, t.rx_missed, t.rx_errors, t.tx_errors
                );
            }
            let _ = writeln!(s, "control requests refused: {}", st.control_errors);
        }
    }
    s
}

/// A route as one line of `route show`.
pub fn route_line(r: &RouteRow) -> String {
    let mut s = String::new();
    if r.kind != "unicast" {
        let _ = write!(s, "{} ", r.kind);
    }
    s.push_str(if r.prefix == "::/0" {
        "default"
    } else {
        &r.prefix
    });
    if let Some(v) = r.via {
        let _ = write!(s, " via {v}");
    }
    if let Some(d) = &r.dev {
        let _ = write!(s, " dev {d}");
    }
    let _ = write!(
        s,
        " proto {} metric {} pref {}",
        r.proto, r.metric, r.preference
    );
    if let Some(e) = r.expires_s {
        let _ = write!(s, " expires {e}sec");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn route_words_make_requests() {
        assert_eq!(route(&words("")), Ok(Request::RouteShow));
        assert_eq!(
            route(&words("show root 2001:db8::/32")),
            Ok(Request::RouteShowWithin {
                prefix: "2001:db8::/32".into()
            })
        );
        assert_eq!(
            route(&words("show default")),
            Ok(Request::RouteShowWithin {
                prefix: "::/0".into()
            })
        );
        assert_eq!(
            route(&words(
                "add 2001:db8:9::/48 via 2001:db8:1::2 dev lan metric 10 pref high"
            )),
            Ok(Request::RouteAdd(RouteSpec {
                prefix: "2001:db8:9::/48".into(),
                via: Some("2001:db8:1::2".into()),
                port: Some("lan".into()),
                metric: Some(10),
                preference: Some("high".into()),
                action: None,
            }))
        );
        assert_eq!(
            route(&words("add blackhole default")),
            Ok(Request::RouteAdd(RouteSpec {
                prefix: "::/0".into(),
                action: Some("blackhole".into()),
                ..RouteSpec::default()
            }))
        );
        let Ok(Request::RouteReplace { prefix, paths }) = route(&words(
            "replace 2001:db8:9::/48 metric 5 nexthop via fe80::1 dev a nexthop via fe80::2 dev b",
        )) else {
            panic!("not a replace");
        };
        assert_eq!(prefix, "2001:db8:9::/48");
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[1].via.as_deref(), Some("fe80::2"));
        assert_eq!(paths[1].port.as_deref(), Some("b"));
        assert_eq!(paths[1].metric, Some(5));
        assert_eq!(
            route(&words("del 2001:db8::1 dev lan")),
            Ok(Request::RouteDel(RouteMatch {
                prefix: "2001:db8::1/128".into(),
                port: Some("lan".into()),
                ..RouteMatch::default()
            }))
        );
    }

    #[test]
    fn neigh_and_addr_words_make_requests() {
        assert_eq!(neigh(&words("")), Ok(Request::NeighShow));
        assert_eq!(
            neigh(&words(
                "add 2001:db8:1::9 lladdr 02:00:00:00:00:09 dev lan nud permanent"
            )),
            Ok(Request::NeighAdd {
                address: "2001:db8:1::9".into(),
                lladdr: "02:00:00:00:00:09".into(),
                port: Some("lan".into()),
            })
        );
        assert_eq!(
            neigh(&words("del 2001:db8:1::9")),
            Ok(Request::NeighDel {
                address: "2001:db8:1::9".into(),
                port: None
            })
        );
        assert_eq!(
            neigh(&words("flush all")),
            Ok(Request::NeighFlush { port: None })
        );
        assert_eq!(
            neigh(&words("flush dev lan")),
            Ok(Request::NeighFlush {
                port: Some("lan".into())
            })
        );
        assert_eq!(
            addr(&words("add 2001:db8:5::1/64 dev lan")),
            Ok(Request::AddrAdd {
                address: "2001:db8:5::1/64".into(),
                port: "lan".into()
            })
        );
        assert_eq!(
            addr(&words("del 2001:db8:5::1 dev lan")),
            Ok(Request::AddrDel {
                address: "2001:db8:5::1".into(),
                port: "lan".into()
            })
        );
    }

    #[test]
    fn bad_route_words_say_what_is_wrong() {
        for (w, want) in [
            ("get", "usage: route get"),
            ("show match 2001:db8::/32", "usage: route show"),
            ("get nothing", "not an IPv6 address"),
            ("add", "usage: route add"),
            ("add ::/0 via", "\"via\" needs a value"),
            ("add ::/0 colour red", "a route takes via"),
            ("add ::/0 metric -1", "not a number"),
            ("flap ::/0", "the route commands are"),
            ("del ::/0 pref high", "route del takes"),
            (
                "replace ::/0 nexthop weight 3",
                "a nexthop takes via and dev",
            ),
        ] {
            let e = route(&words(w)).unwrap_err();
            assert!(e.contains(want), "{w}: {e:?} lacks {want:?}");
        }
        for (w, want) in [
            ("add 2001:db8::5", "needs lladdr"),
            ("add 2001:db8::5 dev", "needs a value"),
            ("del 2001:db8::5 port a", "only dev PORT"),
            ("poke", "the neigh commands are"),
        ] {
            let e = neigh(&words(w)).unwrap_err();
            assert!(e.contains(want), "{w}: {e:?} lacks {want:?}");
        }
        for (w, want) in [
            ("add 2001:db8::5/64", "name the port"),
            ("add 2001:db8::5/64 dev", "only dev PORT"),
            ("set 2001:db8::5/64", "the addr commands are"),
        ] {
            let e = addr(&words(w)).unwrap_err();
            assert!(e.contains(want), "{w}: {e:?} lacks {want:?}");
        }
        assert!(link(&words("set up")).is_err());
    }
}
