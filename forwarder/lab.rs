//! A small lab for the demo and the end-to-end tests: Linux hosts in network namespaces,
//! each on a veth pair whose other end v6fwd drives through DPDK's af_packet driver, and
//! v6fwd itself as a subprocess (DPDK's EAL starts once per process).
//!
//! Everything is named from a tag, so that several labs can exist side by side, and is
//! removed when the values are dropped.

use std::io::{self, BufRead, BufReader, Read};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::wire::MacAddr;

/// Runs a command, failing with its stderr if it exits non-zero.
pub fn sh(program: &str, args: &[&str]) -> io::Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{program}: {e} (is it installed?)")))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One host: a network namespace with one interface, `eth0`, cabled to the router.
#[derive(Debug, Clone)]
pub struct Host {
    pub netns: String,
    /// The router's end of the cable, in the root namespace.
    pub router_if: String,
    pub mac: MacAddr,
    pub addr: Ipv6Addr,
    /// The router's address on this host's subnet, the host's default gateway.
    pub gateway: Ipv6Addr,
    /// The link's MTU, on both ends.
    pub mtu: u16,
}

impl Host {
    /// Runs a command inside the host's namespace.
    pub fn exec(&self, args: &[&str]) -> io::Result<std::process::Output> {
        Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .args(args)
            .output()
    }
}

/// Hosts on their own links, each with a /64 `2001:db8:<n>::/64`: the host is `::2`, the
/// router `::1`. Removed on drop.
pub struct Topology {
    pub tag: String,
    pub hosts: Vec<Host>,
}

impl Topology {
    /// The control socket of the router between the hosts.
    pub fn control_socket(&self) -> PathBuf {
        std::env::temp_dir().join(format!("v6fwd-{}.sock", self.tag))
    }

    /// Creates a host for each link MTU in `mtus`, named from `tag` (at most 8
    /// characters, so interface names stay within Linux's 15).
    ///
    /// # Errors
    /// Fails if `ip` refuses a step (not root, names taken); what was made is removed.
    pub fn create(tag: &str, mtus: &[u16]) -> io::Result<Topology> {
        let mut topo = Topology {
            tag: tag.to_owned(),
            hosts: Vec::new(),
        };
        for (n, &mtu) in (1u8..).zip(mtus) {
            let host = Host {
                netns: format!("{tag}-h{n}"),
                router_if: format!("{tag}r{n}"),
                mac: MacAddr([0x02, 0, 0, 0, n, 0x02]),
                addr: Ipv6Addr::new(0x2001, 0xdb8, u16::from(n), 0, 0, 0, 0, 2),
                gateway: Ipv6Addr::new(0x2001, 0xdb8, u16::from(n), 0, 0, 0, 0, 1),
                mtu,
            };
            // Whatever part of the host exists is removed with the topology.
            topo.hosts.push(host.clone());
            setup_host(&host, &format!("{tag}h{n}"))?;
        }
        Ok(topo)
    }
}

fn setup_host(h: &Host, peer: &str) -> io::Result<()> {
    let ns = h.netns.as_str();
    sh("ip", &["netns", "add", ns])?;
    sh(
        "ip",
        &[
            "link",
            "add",
            &h.router_if,
            "type",
            "veth",
            "peer",
            "name",
            peer,
        ],
    )?;
    sh("ip", &["link", "set", peer, "netns", ns])?;
    // The router's end belongs to v6fwd: the kernel must neither answer nor send IPv6 there.
    std::fs::write(
        format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", h.router_if),
        "1",
    )?;
    let mtu = h.mtu.to_string();
    sh("ip", &["link", "set", &h.router_if, "mtu", &mtu, "up"])?;

    sh("ip", &["-n", ns, "link", "set", "lo", "up"])?;
    sh("ip", &["-n", ns, "link", "set", peer, "name", "eth0"])?;
    sh(
        "ip",
        &[
            "-n",
            ns,
            "link",
            "set",
            "eth0",
            "address",
            &h.mac.to_string(),
        ],
    )?;
    // No duplicate address detection: the test starts at once, and no one else is there.
    sh(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            "echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad",
        ],
    )?;
    // A veth leaves checksums to be completed by the receiving kernel; the router reads
    // the frames raw through af_packet and would pass them on unfinished. Hosts on a real
    // wire finish their checksums, so these do too.
    sh(
        "ip",
        &["netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"],
    )?;
    sh("ip", &["-n", ns, "link", "set", "eth0", "mtu", &mtu, "up"])?;
    sh(
        "ip",
        &[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/64", h.addr),
            "dev",
            "eth0",
            "nodad",
        ],
    )?;
    sh(
        "ip",
        &[
            "-n",
            ns,
            "-6",
            "route",
            "add",
            "default",
            "via",
            &h.gateway.to_string(),
        ],
    )?;
    Ok(())
}

impl Drop for Topology {
    fn drop(&mut self) {
        for h in &self.hosts {
            // Deleting the namespace deletes the veth pair with it; deleting the router's
            // end covers a host whose namespace move failed half way.
            let _ = sh("ip", &["link", "del", &h.router_if]);
            let _ = sh("ip", &["netns", "del", &h.netns]);
        }
    }
}

/// The configuration of a router between the hosts of `topo`: a port on each host's link
/// through af_packet and the host's subnet on it, a control socket of the topology's own
/// ([`Topology::control_socket`]) and metrics on a port the system picks. The hosts are
/// found by Neighbor Discovery.
pub fn router_config(topo: &Topology, workers: &[u32]) -> String {
    let list: Vec<String> = workers.iter().map(u32::to_string).collect();
    let mut s = format!(
        "workers = [{}]\nmbufs = 4095\nrx_descriptors = 256\ntx_descriptors = 256\n\
         control = {{ socket = \"{}\" }}\nmetrics = {{ listen = \"127.0.0.1:0\" }}\n",
        list.join(", "),
        topo.control_socket().display()
    );
    // af_packet gives a port as many queue pairs as asked: one per worker.
    let qpairs = workers.len().max(1);
    for (i, h) in topo.hosts.iter().enumerate() {
        s.push_str(&format!(
            "\n[[port]]\nname = \"port{i}\"\ndevice = \"net_af_packet{i},iface={},qpairs={qpairs}\"\nmtu = {}\naddresses = [\"{}/64\"]\n",
            h.router_if, h.mtu, h.gateway
        ));
    }
    s
}

/// The EAL's `--lcores` for a lab whose worker lcores are `workers`: the main lcore on
/// CPU 0 and the workers spread over the machine's CPUs after it, several on one CPU where
/// there are fewer CPUs than lcores (a one-CPU guest runs them all on CPU 0).
pub fn lcore_map(workers: &[u32]) -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut map = vec![String::from("0@0")];
    for (i, w) in workers.iter().enumerate() {
        map.push(format!("{w}@{}", (1 + i) % cpus));
    }
    format!("--lcores={}", map.join(","))
}

/// EAL arguments for a lab: no hugepages, no PCI scan, a file prefix of its own.
pub fn eal_args(tag: &str) -> Vec<String> {
    [
        "--no-huge",
        "-m",
        "512",
        "--no-pci",
        "--log-level=*:warning",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--file-prefix={tag}-{}", std::process::id())])
    .collect()
}

/// v6fwd running as a subprocess.
pub struct Forwarder {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    stderr_reader: Option<thread::JoinHandle<()>>,
    stderr_seen: Vec<String>,
}

/// What v6fwd logs once every worker polls.
pub const READY_LINE: &str = "forwarding workers=";

impl Forwarder {
    /// Starts `exe run --config config [extra] -- eal_args` and waits until it says it is
    /// forwarding.
    ///
    /// # Errors
    /// Fails if it cannot start, exits, or is not forwarding within `timeout`; the error
    /// holds what it printed.
    pub fn start(
        exe: &Path,
        config: &Path,
        extra: &[&str],
        eal_args: &[String],
        timeout: Duration,
    ) -> io::Result<Forwarder> {
        let mut child = Command::new(exe)
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .arg("--")
            .args(eal_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().expect("piped above");
        let (tx, rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut fwd = Forwarder {
            child,
            stderr_lines: rx,
            stderr_reader: Some(reader),
            stderr_seen: Vec::new(),
        };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match fwd.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.contains(READY_LINE);
                    fwd.stderr_seen.push(line);
                    if ready {
                        return Ok(fwd);
                    }
                }
                Err(_) => {
                    let _ = fwd.signal(libc::SIGKILL);
                    let _ = fwd.child.wait();
                    return Err(io::Error::other(format!(
                        "v6fwd did not start forwarding:\n{}",
                        fwd.stderr_seen.join("\n")
                    )));
                }
            }
        }
    }

    /// The address (host:port) its metrics are served at, as it said when it started.
    pub fn metrics_addr(&self) -> Option<String> {
        self.stderr_seen.iter().find_map(|l| {
            let rest = l.split("metrics served at http://").nth(1)?;
            Some(rest.split('/').next()?.to_owned())
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, sig: libc::c_int) -> io::Result<()> {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with the pid of a child this process started and has not reaped,
        // so the pid cannot have been reused.
        #[allow(unsafe_code)]
        let ret = unsafe { libc::kill(pid, sig) };
        if ret == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Stops it with SIGTERM and returns its exit status, its stdout (the report) and all it
    /// wrote to stderr.
    ///
    /// # Errors
    /// Fails if it cannot be signalled or waited for.
    pub fn stop(mut self) -> io::Result<(ExitStatus, String, String)> {
        self.signal(libc::SIGTERM)?;
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            stdout.read_to_string(&mut out)?;
        }
        let status = self.child.wait()?;
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        self.stderr_seen.extend(self.stderr_lines.try_iter());
        Ok((status, out, self.stderr_seen.join("\n")))
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// A file in the system's temporary folder, removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// Writes `contents` to a new file named from `name` and this process.
    pub fn new(name: &str, contents: &[u8]) -> io::Result<TempFile> {
        let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
        std::fs::write(&path, contents)?;
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
