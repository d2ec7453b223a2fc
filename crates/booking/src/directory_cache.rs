//! The directory in memory: what slot search and booking read of it —
//! services, service points' calendars, kiosks, experts and interpreters
//! with their hours — loaded once and used until it changes.
//!
//! Every directory change adds one to the database's `directory_version`
//! row, by trigger, in the change's own transaction, whichever process (or
//! person at a SQL prompt) makes it. Before each use the cache reads that
//! row; another number reloads the whole directory. So a copy is never
//! older than the caller's own read of the version, in one process or many:
//! a booking process sees another's change on its next search, with no
//! message passed between them. A search then reads from the database only
//! the version and the bookings of its days.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use silta_proto::v1::{AgencyCode, LanguageTag, ServicePointId};

use crate::availability::{PointCalendar, WeeklyHours};
use crate::directory::{self, BookableExpert};
use crate::error::AppError;
use crate::model::Service;
use crate::store::Store;

/// One loaded copy of the directory.
#[derive(Debug)]
pub struct Directory {
    version: i64,
    services: HashMap<String, Service>,
    calendars: HashMap<String, PointCalendar>,
    /// By agency, in id order.
    experts: HashMap<String, Vec<BookableExpert>>,
    /// Active kiosks' ids by service point, in id order.
    kiosks: HashMap<String, Vec<String>>,
    /// In id order.
    interpreters: Vec<Interpreter>,
}

/// An interpreter as slot search reads them.
#[derive(Debug)]
pub struct Interpreter {
    /// Id.
    pub id: String,
    languages: Vec<String>,
    /// Weekly working hours.
    pub hours: Arc<WeeklyHours>,
}

impl Directory {
    /// A service.
    pub fn service(&self, id: &str) -> Result<&Service, AppError> {
        self.services.get(id).ok_or(AppError::NotFound("service"))
    }

    /// A service point's calendar.
    pub fn calendar(&self, point: &ServicePointId) -> Result<&PointCalendar, AppError> {
        self.calendars.get(point.as_str()).ok_or(AppError::NotFound("service point"))
    }

    /// The experts of an agency who offer a service in a language, in id
    /// order.
    pub fn bookable_experts<'a>(
        &'a self,
        agency: &AgencyCode,
        service: &'a str,
        language: &'a LanguageTag,
    ) -> impl Iterator<Item = &'a BookableExpert> + 'a {
        self.experts.get(agency.as_str()).map(Vec::as_slice).unwrap_or_default().iter().filter(move |expert| {
            expert.services.iter().any(|offered| offered == service)
                && expert.languages.iter().any(|spoken| spoken == language.as_str())
        })
    }

    /// A service point's active kiosks, in id order.
    pub fn active_kiosks(&self, point: &ServicePointId) -> &[String] {
        self.kiosks.get(point.as_str()).map(Vec::as_slice).unwrap_or_default()
    }

    /// Interpreters of a language, in id order.
    pub fn interpreters_of<'a>(&'a self, language: &'a LanguageTag) -> impl Iterator<Item = &'a Interpreter> + 'a {
        self.interpreters
            .iter()
            .filter(move |interpreter| interpreter.languages.iter().any(|spoken| spoken == language.as_str()))
    }

    async fn load(store: &Store, version: i64) -> Result<Self, AppError> {
        let services = directory::list_services(store, None).await?;
        let calendars = directory::load_calendars(store).await?;
        let mut experts: HashMap<String, Vec<BookableExpert>> = HashMap::new();
        for expert in directory::experts_with_hours(store).await? {
            experts.entry(expert.agency.clone()).or_default().push(expert);
        }
        let mut kiosks: HashMap<String, Vec<String>> = HashMap::new();
        for kiosk in directory::list_kiosks(store, None).await?.into_iter().filter(|kiosk| kiosk.active) {
            kiosks.entry(kiosk.service_point.as_str().to_owned()).or_default().push(kiosk.id);
        }
        let mut hours = directory::load_weekly_hours(store, "interpreter:").await?;
        let interpreters = directory::list_interpreters(store)
            .await?
            .into_iter()
            .map(|interpreter| Interpreter {
                hours: Arc::new(hours.remove(&interpreter.id).unwrap_or_default()),
                languages: interpreter.languages.iter().map(|tag| tag.as_str().to_owned()).collect(),
                id: interpreter.id,
            })
            .collect();
        Ok(Self {
            version,
            services: services.into_iter().map(|service| (service.id.clone(), service)).collect(),
            calendars,
            experts,
            kiosks,
            interpreters,
        })
    }
}

/// The copy in use, shared by a booking process's requests.
#[derive(Default)]
pub struct DirectoryCache {
    current: Mutex<Option<Arc<Directory>>>,
    /// One reload at a time; the others wait for its result.
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for DirectoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryCache").field("version", &self.loaded().map(|copy| copy.version)).finish()
    }
}

async fn database_version(store: &Store) -> Result<i64, AppError> {
    let (version,): (i64,) =
        sqlx::query_as("SELECT version FROM directory_version WHERE id = 1").fetch_one(store.pool()).await?;
    Ok(version)
}

impl DirectoryCache {
    fn loaded(&self) -> Option<Arc<Directory>> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The directory as the database holds it now: the copy in memory when
    /// the database's version is still the copy's, else a fresh load.
    pub async fn get(&self, store: &Store) -> Result<Arc<Directory>, AppError> {
        let version = database_version(store).await?;
        if let Some(copy) = self.loaded().filter(|copy| copy.version == version) {
            return Ok(copy);
        }
        let _one_at_a_time = self.reloading.lock().await;
        if let Some(copy) = self.loaded().filter(|copy| copy.version == version) {
            return Ok(copy);
        }
        // The version is read before the data: a change committed while
        // loading leaves the copy marked older than it is, so the next use
        // reloads, never the other way round.
        let version = database_version(store).await?;
        let started = Instant::now();
        let copy = Arc::new(Directory::load(store, version).await?);
        tracing::debug!(
            version,
            experts = copy.experts.values().map(Vec::len).sum::<usize>(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "directory loaded"
        );
        *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(copy.clone());
        Ok(copy)
    }
}
