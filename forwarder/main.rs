//! The `v6fwd` command: run the forwarder, check a configuration, or run the demo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use v6fwd::config::{Config, DEFAULT_CONTROL_SOCKET};
use v6fwd::control::client::Client;
use v6fwd::control::{Outcome, Request, Response, cli};
use v6fwd::lab::{self, Forwarder, TempFile, Topology};

#[derive(Parser)]
#[command(name = "v6fwd", version, about = "An IPv6 router dataplane on DPDK")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print what a running forwarder answers as JSON.
    #[arg(short = 'j', long = "json-output", global = true)]
    json: bool,
    /// The control socket: of the running forwarder to talk to, or, with `run`, the one
    /// to listen on instead of the configuration's [default: /run/v6fwd.sock].
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
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
    /// Routes of the running forwarder: show, get ADDRESS, add, replace, del
    /// (`route add 2001:db8::/32 via 2001:db8:1::2 [dev PORT] [metric N] [pref high]`).
    Route {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Neighbor entries of the running forwarder: show, add ADDRESS lladdr MAC [dev PORT],
    /// del ADDRESS [dev PORT], flush [dev PORT].
    Neigh {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Addresses of the running forwarder's ports: show, add ADDRESS/LENGTH dev PORT (after
    /// Duplicate Address Detection), del ADDRESS dev PORT.
    Addr {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Ports of the running forwarder, with their counters: show.
    Link {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Every counter of the running forwarder.
    Stats,
    /// Make the running forwarder read its configuration file again and apply what
    /// changed (as SIGHUP does).
    Reload,
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

    let cli = Cli::parse();
    let control = |request: Result<Request, String>| match request {
        Ok(r) => ask(
            cli.socket
                .as_deref()
                .unwrap_or(std::path::Path::new(DEFAULT_CONTROL_SOCKET)),
            &r,
            cli.json,
        ),
        Err(e) => {
            eprintln!("v6fwd: {e}");
            ExitCode::from(2)
        }
    };
    match &cli.command {
        Command::Run { config, json, eal } => run(config, cli.socket.as_deref(), *json, eal),
        Command::Check { config } => check(config),
        Command::Demo(args) => demo(args),
        Command::Doctor { config } => doctor(config.as_deref()),
        Command::Route { words } => control(cli::route(words)),
        Command::Neigh { words } => control(cli::neigh(words)),
        Command::Addr { words } => control(cli::addr(words)),
        Command::Link { words } => control(cli::link(words)),
        Command::Stats => control(Ok(Request::Stats)),
        Command::Reload => control(Ok(Request::Reload)),
    }
}

/// Sends `request` to the forwarder at `socket` and prints the answer.
fn ask(socket: &std::path::Path, request: &Request, json: bool) -> ExitCode {
    let answer = Client::connect(socket).and_then(|mut c| c.call(request));
    match answer {
        Ok(Response {
            outcome: Outcome::Ok(reply),
            ..
        }) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reply).expect("plain data")
                );
            } else {
                print!("{}", cli::text(&reply));
            }
            ExitCode::SUCCESS
        }
        Ok(Response {
            outcome: Outcome::Error(e),
            ..
        }) => {
            eprintln!("v6fwd: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("v6fwd: {e}");
            ExitCode::FAILURE
        }
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

fn run(
    path: &std::path::Path,
    socket: Option<&std::path::Path>,
    json: bool,
    eal: &[String],
) -> ExitCode {
    let Some(mut config) = load(path) else {
        return ExitCode::from(2);
    };
    if let Some(s) = socket {
        config.control_socket = s.to_owned();
    }
    match v6fwd::router::run(&config, path, eal) {
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
    // The demo's forwarder answers where the commands look by default, so that the
    // README's examples work on it as they are.
    let text = lab::router_config(&topo, &[args.worker])
        .replace(
            &format!("socket = \"{}\"", topo.control_socket().display()),
            &format!("socket = \"{DEFAULT_CONTROL_SOCKET}\""),
        )
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{}\"", v6fwd::config::DEFAULT_METRICS),
        )
        + &format!("\n[polling]\nmode = \"{}\"\n", args.polling);
    let config = TempFile::new("v6demo.toml", text.as_bytes())?;
    let exe = std::env::current_exe()?;
    let fwd = Forwarder::start(
        &exe,
        &config.0,
        &[],
        &[lab::eal_args(TAG), vec![lab::lcore_map(&[args.worker])]].concat(),
        Duration::from_secs(30),
    )?;
    println!(
        "v6fwd is forwarding; its control socket is {DEFAULT_CONTROL_SOCKET}{}",
        fwd.metrics_addr()
            .map(|a| format!(", its metrics http://{a}/metrics"))
            .unwrap_or_default()
    );

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
