//! Kiosk device-credential revocations across the cluster: at each kiosk
//! token exchange a signal node asks the booking service, whose database
//! registers the credentials issued from the admin page, by NATS
//! request/reply on `<prefix>.booking.devices.revoked` (the credential id
//! in, `revoked` or `valid` out; the booking nodes answer as one queue
//! group). A revocation so takes effect at the kiosk's next exchange. When
//! no booking node answers, the signal node still refuses the credentials
//! it has been told are revoked, and lets others through with a warning:
//! a booking outage does not take every kiosk out of service.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use silta_signal::DeviceRegistry;

use crate::{Cluster, ClusterError, nats_error};

/// How long a signal node waits for the booking service's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Most revocations a signal node remembers (a revoked credential expires
/// by itself within five years; beyond this many the oldest are forgotten).
const MAX_KNOWN: usize = 100_000;

/// The signal node's side: asks, and remembers what it was told.
pub struct NatsDeviceRegistry {
    client: async_nats::Client,
    subject: String,
    known_revoked: Mutex<HashSet<String>>,
}

impl NatsDeviceRegistry {
    /// Asks the cluster's booking service.
    pub fn new(cluster: &Cluster) -> Self {
        Self {
            client: cluster.client.clone(),
            subject: cluster.settings.device_check_subject(),
            known_revoked: Mutex::new(HashSet::new()),
        }
    }

    fn remember(&self, id: &str) {
        let mut known = self.known_revoked.lock().unwrap_or_else(|poison| poison.into_inner());
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(id.to_owned());
    }

    fn known(&self, id: &str) -> bool {
        self.known_revoked.lock().unwrap_or_else(|poison| poison.into_inner()).contains(id)
    }
}

#[async_trait::async_trait]
impl DeviceRegistry for NatsDeviceRegistry {
    async fn revoked(&self, credential_id: &str) -> Result<bool, String> {
        let request = self.client.request(self.subject.clone(), credential_id.as_bytes().to_vec().into());
        let failure = match tokio::time::timeout(ANSWER_WITHIN, request).await {
            Ok(Ok(answer)) => match &answer.payload[..] {
                b"revoked" => {
                    self.remember(credential_id);
                    return Ok(true);
                }
                b"valid" => return Ok(false),
                _ => "the booking service could not read its registry".to_owned(),
            },
            Ok(Err(err)) => format!("no answer from the booking service: {err}"),
            Err(_) => format!("no answer from the booking service within {} s", ANSWER_WITHIN.as_secs()),
        };
        if self.known(credential_id) { Ok(true) } else { Err(failure) }
    }
}

/// The booking service's side: answers each question with `check` (true:
/// revoked) until the process ends.
pub async fn serve_device_checks<F, Fut>(cluster: &Cluster, check: F) -> Result<(), ClusterError>
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<bool, String>> + Send,
{
    let client = cluster.client.clone();
    let mut questions =
        client.queue_subscribe(cluster.settings.device_check_subject(), "booking".into()).await.map_err(nats_error)?;
    tokio::spawn(async move {
        while let Some(question) = questions.next().await {
            let Some(reply) = question.reply else { continue };
            let id = String::from_utf8_lossy(&question.payload).into_owned();
            let answer: &'static [u8] = match check(id).await {
                Ok(true) => b"revoked",
                Ok(false) => b"valid",
                Err(err) => {
                    tracing::warn!(error = %err, "a device credential could not be looked up");
                    b"error"
                }
            };
            if let Err(err) = client.publish(reply, answer.into()).await {
                tracing::warn!(error = %err, "a device credential answer could not be sent");
            }
        }
    });
    Ok(())
}
