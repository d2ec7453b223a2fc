//! A document handed to a citizen in a call, sent once by e-mail to the
//! address they typed at the kiosk. Nothing of it is kept: the address and
//! the document are used for this one message and dropped when it has gone
//! (or failed: the kiosk still holds the document and may try again). It is
//! sent at once, not through the outbox, which would store both. The audit
//! log records that a document was sent by e-mail from the kiosk's service
//! point, its type and size — never the address, the name or the content.

use base64::Engine;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use silta_proto::v1::Role;
use silta_proto::v1::media::FileType;
use utoipa::ToSchema;

use crate::access::Caller;
use crate::error::AppError;
use crate::model::Contact;
use crate::store::Store;

/// A document to send by e-mail (a JSON object).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentEmail {
    /// The address the citizen typed: used for this message only.
    #[schema(value_type = crate::openapi::EmailDoc, inline)]
    pub to: String,
    /// The document's type; its first bytes must agree.
    #[schema(value_type = crate::openapi::FileTypeDoc, inline)]
    pub media_type: String,
    /// The document, base64.
    #[schema(value_type = crate::openapi::DocumentContentDoc, inline)]
    pub content: String,
}

/// The fields of [`DocumentEmail`], read from an object only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentEmailFields {
    to: String,
    media_type: String,
    content: String,
}

impl<'de> Deserialize<'de> for DocumentEmail {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let DocumentEmailFields { to, media_type, content } =
            DocumentEmailFields::deserialize(serde_json::Value::Object(object)).map_err(serde::de::Error::custom)?;
        Ok(Self { to, media_type, content })
    }
}

/// The largest request body of the route: the base64 of the largest
/// document and the rest of the object.
pub const MAX_BODY: usize = (FileType::MAX_SIZE as usize).div_ceil(3) * 4 + 4096;

/// How documents go out by e-mail: the notifications' SMTP server, or the
/// log (development: one line, without the address).
pub type Mailer = Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>;

/// Checks and sends a document; answers once the SMTP server took it.
pub async fn email(
    store: &Store,
    mailer: &Mailer,
    caller: &Caller,
    request: DocumentEmail,
    now: i64,
) -> Result<(), AppError> {
    if caller.role() != Role::Kiosk {
        return Err(AppError::Forbidden("only a kiosk sends a citizen's document by e-mail".into()));
    }
    crate::notify::validate_contact(&Contact { email: Some(request.to.clone()), phone: None })?;
    let kind = FileType::from_media_type(&request.media_type)
        .ok_or_else(|| AppError::BadRequest("document_wrong_type", "a document is a PDF, PNG or JPEG file".into()))?;
    // The encoded length bounds the decoded one: nothing larger is decoded.
    if request.content.len() > MAX_BODY {
        return Err(AppError::TooLarge(format!("a document is at most {} MiB", FileType::MAX_SIZE >> 20)));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(request.content.as_bytes())
        .map_err(|_| AppError::BadRequest("invalid_document", "the content is not base64".into()))?;
    if bytes.len() > FileType::MAX_SIZE as usize {
        return Err(AppError::TooLarge(format!("a document is at most {} MiB", FileType::MAX_SIZE >> 20)));
    }
    if !kind.matches(&bytes) {
        return Err(AppError::BadRequest(
            "document_wrong_type",
            format!("the content is not a {} file", kind.as_str()),
        ));
    }
    let size = bytes.len();
    match mailer {
        None => tracing::info!(media_type = kind.as_str(), size, "document e-mail (log adapter)"),
        Some((transport, from)) => {
            let to: Mailbox = request
                .to
                .parse()
                .map_err(|_| AppError::BadRequest("invalid_email", "the email address is not valid".into()))?;
            let message = compose(from, to, kind, bytes)?;
            if let Err(err) = transport.send(message).await {
                // The server's answer may quote the address: only its kind is logged.
                tracing::warn!(permanent = err.is_permanent(), "a document e-mail was not taken by the SMTP server");
                return Err(AppError::Unavailable(
                    "document_email_failed",
                    "the e-mail could not be sent; try again".into(),
                ));
            }
        }
    }
    let mut tx = store.begin_write().await?;
    crate::audit::append(
        &mut tx,
        caller,
        "document.emailed",
        "document",
        &format!("{}; {size} bytes", kind.as_str()),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The message: a few words in Finnish, Swedish and English, and the
/// document attached under a plain name (the file's own name never left
/// the expert's computer).
fn compose(from: &Mailbox, to: Mailbox, kind: FileType, bytes: Vec<u8>) -> Result<lettre::Message, AppError> {
    let name = match kind {
        FileType::Pdf => "document.pdf",
        FileType::Png => "document.png",
        FileType::Jpeg => "document.jpg",
    };
    let text = "Liitteenä asiakirja, jonka sait palvelupisteen etäasioinnissa.\n\
                Bifogat finns dokumentet du fick vid distansservicen på serviceställe.\n\
                Attached is the document you were given in remote service at the service point.\n";
    let content_type = ContentType::parse(kind.as_str()).map_err(|err| AppError::Internal(err.into()))?;
    // Base64 always: a PDF that looks like text would otherwise go as
    // quoted-printable, which some readers mangle.
    let body = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
        .map_err(|_| AppError::Internal("the document could not be encoded".into()))?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject("Asiakirja – Dokument – Document")
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(text.to_owned()))
                .singlepart(Attachment::new(name.to_owned()).body(body, content_type)),
        )
        .map_err(|err| AppError::Internal(err.into()))
}
