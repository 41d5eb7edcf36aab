//! The `v6fwd` command: run the forwarder, check a configuration, or run the demo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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
    Demo(DemoArgs),
    /// Check the machine (hugepages, IOMMU, vfio, memory) and, with --config, the ports'
    /// drivers and NUMA placement, the worker cores and the polling mode; say what to fix.
    Doctor {
        /// A configuration file (TOML) to check against the machine.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
}

#[derive(Args)]
struct DemoArgs {
    /// Echo requests per ping.
    #[arg(long, default_value_t = 3)]
    count: u32,
    /// Seconds between echo requests.
    #[arg(long, default_value_t = 0.2)]
    interval: f64,
    /// Keep forwarding after the pings, until Ctrl-C, so you can try it yourself.
    #[arg(long)]
    keep: bool,
    /// The lcore of the worker.
    #[arg(long, default_value_t = 1)]
    worker: u32,
    /// How the worker polls: adaptive (sleeps when idle) or poll (never sleeps).
    #[arg(long, default_value = "adaptive", value_parser = ["adaptive", "poll"])]
    polling: String,
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
        Command::Demo(args) => demo(&args),
        Command::Doctor { config } => doctor(config.as_deref()),
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

fn doctor(path: Option<&std::path::Path>) -> ExitCode {
    let config = match path {
        Some(p) => match load(p) {
            Some(c) => Some(c),
            None => return ExitCode::from(2),
        },
        None => None,
    };
    println!(
        "v6fwd {} on {}",
        env!("CARGO_PKG_VERSION"),
        v6fwd::ffi::version()
    );
    let findings = v6fwd::doctor::examine(std::path::Path::new("/"), config.as_ref());
    for f in &findings {
        println!("{f}");
    }
    if findings
        .iter()
        .any(|f| f.level == v6fwd::doctor::Level::Fail)
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn demo(args: &DemoArgs) -> ExitCode {
    match run_demo(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("v6fwd demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_demo(args: &DemoArgs) -> std::io::Result<bool> {
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
        (lab::router_config(&topo, &[args.worker])
            + &format!("\n[polling]\nmode = \"{}\"\n", args.polling))
            .as_bytes(),
    )?;
    let exe = std::env::current_exe()?;
    let fwd = Forwarder::start(
        &exe,
        &config.0,
        &[],
        &[lab::eal_args(TAG), vec![lab::lcore_map(&[args.worker])]].concat(),
        Duration::from_secs(30),
    )?;
    println!("v6fwd is forwarding");

    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    let (count, interval) = (args.count.to_string(), args.interval.to_string());
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
            &interval,
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

    if args.keep {
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
