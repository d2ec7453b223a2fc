//! Harness for media tests: the real SFU behind the real signal service,
//! both on loopback, and a guard that media only ever flows inside a
//! loopback-only network namespace.

use std::sync::Arc;
use std::time::Duration;

use silta::local_media::InProcessSfu;
use silta_sfu::{SfuHandle, SfuSettings};

use crate::signal::{RecordingMedia, SignalTestApp, spawn_signal_with_media};

/// The network interfaces of this process's namespace (from /proc/net/dev,
/// which, unlike /sys/class/net, follows the network namespace).
pub fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next().map(|name| name.trim().to_owned()))
        .collect()
}

/// True when the only interface is loopback.
pub fn in_loopback_only_namespace() -> bool {
    interfaces() == ["lo"]
}

/// A running media stack.
pub struct MediaStack {
    /// The signal service (with token minting).
    pub signal: SignalTestApp,
    /// The SFU.
    pub sfu: SfuHandle,
}

/// Starts the SFU on 127.0.0.1 and the signal service in front of it.
pub async fn spawn_media_stack(adjust: impl FnOnce(&mut SfuSettings)) -> MediaStack {
    assert!(in_loopback_only_namespace(), "media tests run only inside a loopback-only network namespace");
    let mut settings = SfuSettings { bind: "127.0.0.1:0".parse().unwrap(), ..SfuSettings::default() };
    adjust(&mut settings);
    let (sfu, _task) = silta_sfu::start(&settings).await.expect("the SFU starts");
    let signal =
        spawn_signal_with_media(Arc::new(InProcessSfu::new(sfu.clone())), Arc::new(RecordingMedia::default()), |_| {})
            .await;
    MediaStack { signal, sfu }
}

/// Waits until `condition` holds, checking every 20 ms, at most `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
