//! The SFU of this process as the signal service's media seam, by
//! in-process call (`silta dev`, and the media tests). A cluster puts NATS
//! request/reply behind the same trait instead.

use async_trait::async_trait;
use silta_proto::v1::media::{MediaCommand, MediaEvent, MediaResult};
use silta_sfu::SfuHandle;
use silta_signal::media::{MediaControl, MediaControlError};
use tokio::sync::broadcast;

/// The SFU of this process.
pub struct InProcessSfu(pub SfuHandle);

#[async_trait]
impl MediaControl for InProcessSfu {
    async fn execute(&self, command: MediaCommand) -> Result<MediaResult, MediaControlError> {
        Ok(self.0.execute(command).await)
    }

    fn events(&self) -> broadcast::Receiver<MediaEvent> {
        self.0.events()
    }
}
