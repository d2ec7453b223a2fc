//! Media tests: real Rust WebRTC peers (webrtc crate) through the real
//! signal service and the real SFU, on loopback only.
//!
//! This binary runs without the libtest harness: it first re-executes
//! itself inside a new network namespace that has only `lo` (`unshare -n`),
//! so no WebRTC packet can leave the machine, then runs each scenario and
//! prints `N passed, N failed`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cluster;
mod forwarding;
mod resilience;
mod sequences;
mod signal_nodes;
mod simulcast;
mod telemetry;

use std::process::{Command, ExitCode};

use silta_tests::media::in_loopback_only_namespace;

type Scenario = (&'static str, fn() -> futures_util::future::BoxFuture<'static, ()>);

fn scenarios() -> Vec<Scenario> {
    let mut all = forwarding::scenarios();
    all.extend(resilience::scenarios());
    all.extend(simulcast::scenarios());
    all.extend(sequences::scenarios());
    all.extend(cluster::scenarios());
    all.extend(signal_nodes::scenarios());
    all.extend(telemetry::scenarios());
    all
}

fn main() -> ExitCode {
    if !in_loopback_only_namespace() {
        if std::env::var_os("SILTA_MEDIA_NETNS").is_some() {
            eprintln!("media tests: still not in a loopback-only namespace; refusing to send media");
            return ExitCode::FAILURE;
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        let status = Command::new("unshare")
            .args(["-n", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env("SILTA_MEDIA_NETNS", "1")
            .status();
        return match status {
            Ok(status) if status.success() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("media tests need `unshare -n` (root, util-linux) to make a loopback-only namespace: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let filter: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with('-')).collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario) in scenarios() {
        if !filter.is_empty() && !filter.iter().any(|wanted| name.contains(wanted.as_str())) {
            continue;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(scenario())));
        runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
        }
    }
    println!();
    println!("{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
