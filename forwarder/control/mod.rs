//! The control API: how the `v6fwd` commands, and scripts, talk to a running forwarder.
//!
//! A client connects to the forwarder's Unix socket ([`server`]) and writes requests, one
//! JSON object per line:
//!
//! ```json
//! {"version": 1, "request": {"route_add": {"prefix": "2001:db8:9::/48", "via": "2001:db8:1::2"}}}
//! ```
//!
//! and reads one line back for each: `{"version": 1, "ok": ...}` or
//! `{"version": 1, "error": "..."}`. The management thread applies the requests one at a
//! time, each whole or not at all, so no two clients' changes interleave. A line that is
//! not JSON, is longer than [`MAX_LINE`], names another version, or asks for something
//! that does not exist gets an error and changes nothing.

pub mod cli;
pub mod client;
pub mod server;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use serde::{Deserialize, Serialize};

use crate::config::RouteSpec;
use crate::ffi::PortStats;
use crate::report::CoreReport;

/// The protocol's version. A request of another version is refused, so that an older
/// client never has a newer meaning applied to what it sent.
pub const VERSION: u32 = 1;

/// The longest request line taken, in bytes; a longer one is refused unread.
pub const MAX_LINE: usize = 1 << 20;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Every route.
    RouteShow,
    /// The routes of the prefixes within `prefix` (`ip route show root PREFIX`).
    RouteShowWithin { prefix: String },
    /// The route a packet to `address` takes.
    RouteGet { address: Ipv6Addr },
    /// Adds a path to a prefix.
    RouteAdd(RouteSpec),
    /// Replaces every path of `prefix` with `paths` (at least one).
    RouteReplace {
        prefix: String,
        paths: Vec<RouteSpec>,
    },
    /// Deletes the paths of a prefix that match what is given: all of them when only the
    /// prefix is.
    RouteDel(RouteMatch),
    /// Neighbor entries: the configured ones and those of every core's cache.
    NeighShow,
    /// Configures a neighbor: a permanent entry, which Neighbor Discovery leaves alone.
    NeighAdd {
        address: String,
        lladdr: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// Deletes a neighbor entry: a configured one, or the one a core holds.
    NeighDel {
        address: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// Frees the entries Neighbor Discovery made, of one port or all; configured ones
    /// stay.
    NeighFlush {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// The ports' addresses.
    AddrShow,
    /// Adds an address (address/length) to a port, after Duplicate Address Detection;
    /// its subnet becomes a connected route.
    AddrAdd { address: String, port: String },
    /// Takes an address off a port, and its subnet's route when no other address of the
    /// port is in it.
    AddrDel { address: String, port: String },
    /// The ports: link state and counters.
    LinkShow,
    /// Every counter: ports, cores, drops by reason, routes, neighbors.
    Stats,
    /// Reads the configuration file again and applies what changed.
    Reload,
}

/// Which paths of a prefix a deletion takes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub version: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok(Reply),
    /// What was wrong; nothing was changed.
    Error(String),
}

impl Response {
    pub fn ok(reply: Reply) -> Response {
        Response {
            version: VERSION,
            outcome: Outcome::Ok(reply),
        }
    }

    pub fn error(message: impl Into<String>) -> Response {
        Response {
            version: VERSION,
            outcome: Outcome::Error(message.into()),
        }
    }
}

/// What a request that succeeded returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// A change was applied; what it did.
    Done(String),
    Routes(Vec<RouteRow>),
    Route(RouteGot),
    Neighbors(Vec<NeighborRow>),
    Addresses(Vec<AddressRow>),
    Links(Vec<LinkRow>),
    Stats(Box<Stats>),
    Reloaded(Vec<String>),
}

/// One route, as `route show` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRow {
    pub prefix: String,
    /// `unicast`, or the reject route's type: `blackhole`, `unreachable`, `prohibit`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    pub metric: u32,
    pub preference: String,
    /// Where it came from: connected, static, ra, rio, api.
    pub proto: String,
    /// Seconds left, for a route with a lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_s: Option<u64>,
}

/// What `route get` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteGot {
    pub address: Ipv6Addr,
    /// The longest prefix that matches, and its routes.
    pub routes: Vec<RouteRow>,
    /// The paths that carry traffic now: (port, gateway or none when on-link).
    pub selected: Vec<SelectedPath>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedPath {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Ipv6Addr>,
    #[serde(rename = "type")]
    pub kind: String,
}

/// One neighbor entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborRow {
    pub dev: String,
    pub address: Ipv6Addr,
    /// None while the entry is INCOMPLETE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lladdr: Option<String>,
    /// REACHABLE, STALE, DELAY, PROBE, INCOMPLETE, FAILED or PERMANENT (configured).
    pub state: String,
    pub router: bool,
    /// The worker core that owns the entry; none for a configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<u32>,
}

/// A port's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRow {
    pub dev: String,
    /// In use: address/length.
    pub addresses: Vec<String>,
    /// Being probed by Duplicate Address Detection.
    #[serde(default)]
    pub tentative: Vec<String>,
    /// Configured, but held by another node on the link (Duplicate Address Detection).
    pub refused: Vec<String>,
}

/// A port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRow {
    pub name: String,
    pub device: String,
    pub port_id: u16,
    pub mac: String,
    pub mtu: u16,
    pub up: bool,
    pub speed_mbps: u32,
    pub stats: PortStats,
    /// The driver's extended statistics, by name.
    #[serde(default)]
    pub xstats: BTreeMap<String, u64>,
}

/// Every counter of a running forwarder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub uptime_s: f64,
    /// The time-stamp counter's frequency: cycles per second of the cores' busy and idle
    /// cycles.
    pub tsc_hz: u64,
    pub links: Vec<LinkRow>,
    pub cores: Vec<CoreReport>,
    /// Drops by reason over all cores, every reason listed.
    pub drops: BTreeMap<String, u64>,
    /// Routes by where they came from.
    pub routes: BTreeMap<String, u64>,
    /// Prefixes in the routing table.
    pub prefixes: u64,
    /// Neighbor entries by state, over all cores' caches and the configured ones.
    pub neighbors: BTreeMap<String, u64>,
    /// Requests the control socket refused.
    pub control_errors: u64,
}
