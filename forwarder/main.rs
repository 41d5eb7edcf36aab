//! The `v6fwd` command: run the forwarder, check a configuration, or run the demo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use v6fwd::config::Config;
use v6fwd::lab::{self, Forwarder, TempFile, Topology};

#[derive(Parser)]
#[command(name = "v6fwd", version, about = "An IPv6 router dataplane on DPDK")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the forwarder until SIGINT or SIGTERM, then print its counters.
    Run {
        /// The configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
        /// Print the counters as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// DPDK EAL arguments, after `--` (for example --no-huge -m 512 --no-pci).
        #[arg(last = true)]
        eal: Vec<String>,
    },
    /// Validate a configuration file and say what is wrong, with file, line and field.
    Check {
        /// The configuration file (TOML).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Build two hosts in network namespaces, run v6fwd between them, ping across it both
    /// ways and show its counters; everything is removed afterwards. Needs root.
    Demo {
        /// Echo requests per ping.
        #[arg(long, default_value_t = 3)]
        count: u32,
        /// Keep forwarding after the pings, until Ctrl-C, so you can try it yourself.
        #[arg(long)]
        keep: bool,
        /// The lcore of the worker.
        #[arg(long, default_value_t = 1)]
        worker: u32,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    match Cli::parse().command {
        Command::Run { config, json, eal } => run(&config, json, &eal),
        Command::Check { config } => check(&config),
        Command::Demo {
            count,
            keep,
            worker,
        } => demo(count, keep, worker),
    }
}

fn load(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(c) => Some(c),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: {} error(s); nothing was started",
                path.display(),
                errors.0.len()
            );
            None
        }
    }
}

fn run(path: &std::path::Path, json: bool, eal: &[String]) -> ExitCode {
    let Some(config) = load(path) else {
        return ExitCode::from(2);
    };
    match v6fwd::router::run(&config, eal) {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("plain data")
                );
            } else {
                println!("{report}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("v6fwd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let Some(config) = load(path) else {
        return ExitCode::from(2);
    };
    println!(
        "{}: valid: {} port(s), {} worker(s), {} route(s) ({} on-link), {} neighbor(s)",
        path.display(),
        config.ports.len(),
        config.workers.len(),
        config.routes.len(),
        config
            .ports
            .iter()
            .flat_map(|p| &p.addresses)
            .filter(|a| a.len < 128)
            .count(),
        config.neighbors.len()
    );
    ExitCode::SUCCESS
}

fn demo(count: u32, keep: bool, worker: u32) -> ExitCode {
    match run_demo(count, keep, worker) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("v6fwd demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo(count: u32, keep: bool, worker: u32) -> std::io::Result<bool> {
    const TAG: &str = "v6demo";
    println!("demo: two hosts in network namespaces, v6fwd between them on af_packet");
    let topo = Topology::create(TAG, &[1500, 1500])?;
    for h in &topo.hosts {
        println!(
            "  {}: {} ({}) on {}, default via {}",
            h.netns, h.addr, h.mac, h.router_if, h.gateway
        );
    }
    let config = TempFile::new(
        "v6demo.toml",
        lab::router_config(&topo, &[worker]).as_bytes(),
    )?;
    let exe = std::env::current_exe()?;
    let fwd = Forwarder::start(
        &exe,
        &config.0,
        &[],
        &lab::eal_args(TAG),
        Duration::from_secs(30),
    )?;
    println!("v6fwd is forwarding");

    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    let count = count.to_string();
    let mut all_ok = true;
    for (from, to) in [
        (h1, h2.addr),
        (h2, h1.addr),
        (h1, h1.gateway),
        (h2, h2.gateway),
    ] {
        println!("\n$ ip netns exec {} ping -6 -c {count} {to}", from.netns);
        let out = from.exec(&[
            "ping",
            "-6",
            "-c",
            &count,
            "-i",
            "0.2",
            "-W",
            "2",
            &to.to_string(),
        ])?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        all_ok &= out.status.success();
    }

    let target = h2.addr.to_string();
    println!(
        "\n$ ip netns exec {} traceroute -6 -n -q 1 {target}",
        h1.netns
    );
    let out = h1.exec(&[
        "traceroute",
        "-6",
        "-n",
        "-q",
        "1",
        "-w",
        "2",
        "-m",
        "4",
        &target,
    ])?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    all_ok &= out.status.success();

    if keep {
        println!(
            "\nv6fwd keeps forwarding; try `ip netns exec {} ping -6 {}`. Ctrl-C stops it.",
            h1.netns, h2.addr
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))?;
        }
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let (status, report, _) = fwd.stop()?;
    println!("\nv6fwd stopped ({status}); its counters:\n{report}");
    drop(topo);
    println!(
        "demo: namespaces removed; {}",
        if all_ok {
            "every ping was answered"
        } else {
            "SOME PINGS FAILED"
        }
    );
    Ok(all_ok && status.success())
}
