//! Finds the system's DPDK with pkg-config, generates its bindings with bindgen and compiles
//! the C shim that gives DPDK's `static inline` fast-path functions a linkable symbol.

use std::env;
use std::path::PathBuf;

const MIN_DPDK: &str = "22.11";

fn main() {
    println!("cargo:rerun-if-changed=ffi/dpdk.h");
    println!("cargo:rerun-if-changed=ffi/shim.c");

    let dpdk = match pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => {
            eprintln!(
                "v6fwd needs DPDK {MIN_DPDK} or newer, found through pkg-config as libdpdk.\n\
                 On Debian or Ubuntu: apt-get install libdpdk-dev pkg-config libclang-dev\n\
                 (or run deploy/install-deps.sh).\npkg-config said: {e}"
            );
            std::process::exit(1);
        }
    };

    // pkg-config's cflags carry `-include rte_config.h` and `-march=...`: bindgen and the
    // shim must both see them, or the structure layouts they assume would differ.
    let flags = dpdk_cflags();

    let mut shim = cc::Build::new();
    shim.file("ffi/shim.c")
        .include("ffi")
        .warnings(true)
        .opt_level(3);
    for f in &flags {
        shim.flag(f);
    }
    shim.compile("v6fwd_shim");

    let builder = bindgen::Builder::default()
        .header("ffi/dpdk.h")
        .clang_args(&flags)
        .allowlist_function("rte_eal_.*")
        .allowlist_function("rte_exit")
        .allowlist_function("rte_strerror")
        .allowlist_function("rte_version")
        .allowlist_function("rte_lcore_.*")
        .allowlist_function("rte_get_main_lcore")
        .allowlist_function("rte_socket_id")
        .allowlist_function("rte_pktmbuf_pool_create")
        .allowlist_function("rte_mempool_free")
        .allowlist_function("rte_mempool_lookup")
        .allowlist_function("rte_eth_dev_.*")
        .allowlist_function("rte_eth_rx_queue_setup")
        .allowlist_function("rte_eth_tx_queue_setup")
        .allowlist_function("rte_eth_macaddr_get")
        .allowlist_function("rte_eth_promiscuous_enable")
        .allowlist_function("rte_eth_allmulticast_enable")
        .allowlist_function("rte_eth_stats_get")
        .allowlist_function("rte_eth_link_get_nowait")
        .allowlist_function("rte_eth_xstats_get")
        .allowlist_function("rte_eth_xstats_get_names")
        .allowlist_function("v6fwd_.*")
        .allowlist_type("rte_eth_conf")
        .allowlist_type("rte_eth_dev_info")
        .allowlist_type("rte_eth_stats")
        .allowlist_type("rte_eth_link")
        .allowlist_type("rte_ether_addr")
        .allowlist_var("RTE_ETH_.*")
        .allowlist_var("RTE_MBUF_DEFAULT_BUF_SIZE")
        .allowlist_var("RTE_PKTMBUF_HEADROOM")
        .allowlist_var("RTE_MAX_LCORE")
        .allowlist_var("RTE_MAX_ETHPORTS")
        .allowlist_var("SOCKET_ID_ANY")
        .opaque_type("rte_l2tpv2_.*")
        .opaque_type("rte_gtp_.*")
        .derive_debug(false)
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| panic!("bindgen could not read the DPDK headers: {e}"));

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("dpdk_bindings.rs"))
        .expect("OUT_DIR is writable");

    for path in &dpdk.link_paths {
        println!("cargo:rustc-link-search=native={}", path.display());
    }
}

/// The compiler flags of libdpdk, as separate arguments (`-include` and its file stay apart,
/// as the compilers expect them).
fn dpdk_cflags() -> Vec<String> {
    let out = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("pkg-config ran a moment ago");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
