//! `v6fwd doctor`: looks at the machine (and a configuration, when given) and says in
//! plain words what stands in the way of running v6fwd well, and how to fix it. It reads
//! /proc and /sys only, under a root directory that tests point elsewhere; it starts no
//! EAL.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::config::{Config, Device};
use crate::polling::PollMode;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One thing the doctor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub topic: &'static str,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{level:<5} {:<10} {}", self.topic, self.message)
    }
}

/// Examines the machine whose /proc and /sys lie under `root`, and `config` if given.
pub fn examine(root: &Path, config: Option<&Config>) -> Vec<Finding> {
    let sys = Sys {
        root: root.to_owned(),
    };
    let mut out = Vec::new();
    let mut say = |level, topic, message: String| {
        out.push(Finding {
            level,
            topic,
            message,
        })
    };

    let meminfo = sys.read("proc/meminfo").unwrap_or_default();
    let field = |name: &str| meminfo_field(&meminfo, name);
    let huge_total = field("HugePages_Total").unwrap_or(0);
    let huge_size_kb = field("Hugepagesize").unwrap_or(2048);
    let gigantic = sys
        .read("sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if huge_total == 0 && gigantic == 0 {
        say(
            Level::Warn,
            "hugepages",
            "none reserved: DPDK runs only with --no-huge, on 4 KiB pages and small pools. \
             Reserve some, e.g. `dpdk-hugepages.py --pagesize 2M --setup 2G` (or 1G pages \
             with default_hugepagesz=1G hugepagesz=1G hugepages=N at boot)"
                .into(),
        );
    } else {
        let mounted = sys.read("proc/mounts").is_some_and(|m| {
            m.lines()
                .any(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
        });
        say(
            if mounted { Level::Ok } else { Level::Warn },
            "hugepages",
            format!(
                "{huge_total} of {huge_size_kb} KiB and {gigantic} of 1 GiB reserved{}",
                if mounted {
                    ""
                } else {
                    ", but no hugetlbfs is mounted: `dpdk-hugepages.py --mount`"
                }
            ),
        );
    }

    if let Some(c) = config {
        // With hugepages the pool comes from them; without, from ordinary memory.
        let (available_kb, from) = if huge_total > 0 {
            let free = field("HugePages_Free").unwrap_or(0);
            (free * huge_size_kb, "of hugepages free")
        } else {
            (field("MemAvailable").unwrap_or(0), "available")
        };
        let largest_mtu = c
            .ports
            .iter()
            .map(|p| u64::from(p.mtu))
            .max()
            .unwrap_or(1500);
        // An mbuf holds a whole frame (MTU, Ethernet header and tag room) or 2 KiB, the
        // headroom, and its header and pool overhead.
        let per_mbuf = (largest_mtu + 18).max(2048) + 128 + 256;
        let need_kb = u64::from(c.mbufs) * per_mbuf / 1024;
        let level = if available_kb > 0 && available_kb < need_kb {
            Level::Fail
        } else {
            Level::Ok
        };
        say(
            level,
            "memory",
            format!(
                "{} MiB {from}; the mbuf pool needs about {} MiB",
                available_kb / 1024,
                need_kb / 1024 + 1
            ),
        );
    }

    let iommu_groups = sys.count("sys/kernel/iommu_groups");
    say(
        if iommu_groups > 0 {
            Level::Ok
        } else {
            Level::Warn
        },
        "iommu",
        if iommu_groups > 0 {
            format!("{iommu_groups} IOMMU groups")
        } else {
            "off: vfio-pci needs it (intel_iommu=on iommu=pt, or amd_iommu=on, on the kernel \
             command line), or vfio's unsafe no-IOMMU mode"
                .into()
        },
    );
    let vfio = sys.exists("sys/module/vfio_pci") || sys.exists("sys/bus/pci/drivers/vfio-pci");
    say(
        if vfio { Level::Ok } else { Level::Warn },
        "vfio",
        if vfio {
            "vfio-pci is loaded".into()
        } else {
            "vfio-pci is not loaded: `modprobe vfio-pci` before binding NICs to it".into()
        },
    );

    let Some(c) = config else {
        return out;
    };
    let cpus = sys.count_matching("sys/devices/system/cpu", |n| {
        n.strip_prefix("cpu")
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    });
    let isolated = sys
        .read("sys/devices/system/cpu/isolated")
        .unwrap_or_default();
    for &w in &c.workers {
        if cpus > 0 && w as usize >= cpus {
            say(
                Level::Fail,
                "workers",
                format!("lcore {w}: the machine has CPUs 0 to {}", cpus - 1),
            );
        } else if !cpu_list_contains(isolated.trim(), w) {
            say(
                Level::Warn,
                "workers",
                format!(
                    "CPU {w} is not isolated: other tasks may share it (isolcpus=, or cpusets)"
                ),
            );
        }
    }
    let mode = match c.polling {
        PollMode::Poll => "poll: each worker keeps its core busy, idle or not".to_string(),
        adaptive => format!("{adaptive}"),
    };
    say(Level::Ok, "polling", mode);

    for p in &c.ports {
        match &p.device {
            Device::Vdev(v) => say(
                Level::Ok,
                "port",
                format!("{}: virtual device {}", p.name, v),
            ),
            Device::Name(pci) => {
                let dev = format!("sys/bus/pci/devices/{pci}");
                if !sys.exists(&dev) {
                    say(
                        Level::Fail,
                        "port",
                        format!(
                            "{}: no PCI device {pci} (see `dpdk-devbind.py --status`)",
                            p.name
                        ),
                    );
                    continue;
                }
                let driver = sys.link_name(&format!("{dev}/driver")).unwrap_or_default();
                if !matches!(
                    driver.as_str(),
                    "vfio-pci" | "uio_pci_generic" | "igb_uio" | "mlx5_core" | "mlx4_core"
                ) {
                    say(
                        Level::Fail,
                        "port",
                        format!(
                            "{}: {pci} is driven by {:?}: `dpdk-devbind.py -b vfio-pci {pci}`",
                            p.name, driver
                        ),
                    );
                    continue;
                }
                let node = sys
                    .read(&format!("{dev}/numa_node"))
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .unwrap_or(-1);
                let far: Vec<String> = c
                    .workers
                    .iter()
                    .filter(|w| node >= 0 && sys.cpu_node(**w).is_some_and(|n| n != node))
                    .map(|w| w.to_string())
                    .collect();
                if far.is_empty() {
                    say(
                        Level::Ok,
                        "port",
                        format!("{}: {pci} on NUMA node {node}, driver {driver}", p.name),
                    );
                } else {
                    say(
                        Level::Warn,
                        "numa",
                        format!(
                            "{}: {pci} is on node {node} but workers {} are not: each packet crosses sockets",
                            p.name,
                            far.join(", ")
                        ),
                    );
                }
            }
        }
    }
    out
}

/// Whether a Linux CPU list (`1-3,6`) holds `cpu`.
fn cpu_list_contains(list: &str, cpu: u32) -> bool {
    list.split(',').filter(|s| !s.is_empty()).any(|part| match part.split_once('-') {
        Some((a, b)) => matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if (a..=b).contains(&cpu)),
        None => part.parse() == Ok(cpu),
    })
}

/// The files of /proc and /sys under a root.
struct Sys {
    root: PathBuf,
}

impl Sys {
    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.root.join(rel)).ok()
    }

    fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }

    fn count(&self, rel: &str) -> usize {
        self.count_matching(rel, |_| true)
    }

    fn count_matching(&self, rel: &str, keep: impl Fn(&str) -> bool) -> usize {
        fs::read_dir(self.root.join(rel))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| keep(&e.file_name().to_string_lossy()))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The last part of the path a symbolic link points to (a driver's name).
    fn link_name(&self, rel: &str) -> Option<String> {
        let target = fs::read_link(self.root.join(rel)).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }

    /// The NUMA node of a CPU, from its `nodeN` entry.
    fn cpu_node(&self, cpu: u32) -> Option<i32> {
        let dir = fs::read_dir(self.root.join(format!("sys/devices/system/cpu/cpu{cpu}"))).ok()?;
        dir.filter_map(Result::ok).find_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("node")?
                .parse()
                .ok()
        })
    }
}

/// A number of `/proc/meminfo`, without its unit (kB for sizes).
pub fn meminfo_field(meminfo: &str, name: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake /proc and /sys: two CPUs on node 0, no hugepages, no IOMMU, and one NIC
    /// on node 1 bound to vfio-pci.
    fn machine() -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "v6fwd-doctor-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&root);
        let mk = |rel: &str, text: &str| {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        };
        mk(
            "proc/meminfo",
            "MemTotal: 8000000 kB\nMemAvailable: 4000000 kB\nHugePages_Total: 0\nHugepagesize: 2048 kB\n",
        );
        mk("proc/mounts", "proc /proc proc rw 0 0\n");
        mk("sys/devices/system/cpu/isolated", "1\n");
        for cpu in 0..2 {
            fs::create_dir_all(root.join(format!("sys/devices/system/cpu/cpu{cpu}/node0")))
                .unwrap();
        }
        mk("sys/bus/pci/devices/0000:03:00.0/numa_node", "1\n");
        fs::create_dir_all(root.join("sys/bus/pci/drivers/vfio-pci")).unwrap();
        std::os::unix::fs::symlink(
            "../../../bus/pci/drivers/vfio-pci",
            root.join("sys/bus/pci/devices/0000:03:00.0/driver"),
        )
        .unwrap();
        root
    }

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("d.toml")).unwrap()
    }

    fn find<'a>(f: &'a [Finding], topic: &str) -> Vec<&'a Finding> {
        f.iter().filter(|x| x.topic == topic).collect()
    }

    #[test]
    fn machine_findings() {
        let root = machine();
        let f = examine(&root, None);
        assert_eq!(find(&f, "hugepages")[0].level, Level::Warn);
        assert!(
            find(&f, "hugepages")[0]
                .message
                .contains("dpdk-hugepages.py")
        );
        assert_eq!(find(&f, "iommu")[0].level, Level::Warn);
        assert_eq!(find(&f, "vfio")[0].level, Level::Ok);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn config_findings() {
        let root = machine();
        let c = config(
            "workers = [1, 7]\n[[port]]\ndevice = \"0000:03:00.0\"\n[[port]]\ndevice = \"0000:04:00.0\"\n[[port]]\ndevice = \"net_null0\"\n[polling]\nmode = \"poll\"\n",
        );
        let f = examine(&root, Some(&c));
        let workers = find(&f, "workers");
        assert_eq!(workers.len(), 1, "{f:?}");
        assert_eq!(workers[0].level, Level::Fail);
        assert!(workers[0].message.starts_with("lcore 7"));
        assert!(
            find(&f, "numa")[0]
                .message
                .contains("0000:03:00.0 is on node 1 but workers 1 are not")
        );
        let ports = find(&f, "port");
        assert!(ports.iter().any(|p| p.level == Level::Fail && p.message.contains("no PCI device 0000:04:00.0")));
        assert!(
            ports
                .iter()
                .any(|p| p.level == Level::Ok && p.message.contains("virtual device net_null0"))
        );
        assert!(find(&f, "polling")[0].message.starts_with("poll:"));
        assert_eq!(find(&f, "memory")[0].level, Level::Ok);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn cpu_lists() {
        assert!(cpu_list_contains("1-3,6", 2));
        assert!(cpu_list_contains("1-3,6", 6));
        assert!(!cpu_list_contains("1-3,6", 4));
        assert!(!cpu_list_contains("", 0));
    }
}
