//! Believable demo data for `silta dev`: five agencies, their services,
//! three service points in Lapland and Northern Ostrobothnia, kiosks,
//! experts and interpreters (by staff id — no names), Finnish public
//! holidays and reimbursement agreements. Idempotent: every write is an
//! upsert.

use chrono::NaiveDate;
use silta_proto::v1::{AgencyCode, LanguageTag, ServicePointId};

use crate::directory;
use crate::error::AppError;
use crate::model::{
    Agency, Agreement, Expert, Holiday, Interpreter, Kiosk, Names, Service, ServicePoint, WeekdayHours,
};
use crate::store::Store;
use crate::values::{ClockTime, TimeZone};

fn names(fi: &str, sv: &str, en: &str) -> Names {
    Names { fi: fi.into(), sv: sv.into(), en: en.into() }
}

/// Monday to Friday, from and to whole hours.
fn weekdays(opens_hour: u16, closes_hour: u16) -> Vec<WeekdayHours> {
    let (Some(opens), Some(closes)) =
        (ClockTime::from_minutes(opens_hour * 60), ClockTime::from_minutes(closes_hour * 60))
    else {
        return Vec::new();
    };
    (1..=5).map(|weekday| WeekdayHours { weekday, opens, closes }).collect()
}

fn tags(list: &[&str]) -> Result<Vec<LanguageTag>, AppError> {
    list.iter().map(|tag| LanguageTag::parse(*tag).map_err(AppError::internal)).collect()
}

fn agency(code: &str) -> Result<AgencyCode, AppError> {
    AgencyCode::parse(code).map_err(AppError::internal)
}

fn point(id: &str) -> Result<ServicePointId, AppError> {
    ServicePointId::parse(id).map_err(AppError::internal)
}

/// Writes the demo data.
pub async fn demo(store: &Store) -> Result<(), AppError> {
    let agencies = [
        ("VERO", names("Verohallinto", "Skatteförvaltningen", "Tax Administration")),
        ("POLIISI", names("Poliisi, lupapalvelut", "Polisen, tillståndstjänster", "Police permit services")),
        ("TE", names("TE-palvelut", "TE-tjänster", "Employment services")),
        ("KELA", names("Kela", "FPA", "Kela (Social Insurance Institution)")),
        ("MIGRI", names("Maahanmuuttovirasto", "Migrationsverket", "Finnish Immigration Service")),
    ];
    for (code, names) in agencies {
        directory::upsert_agency(store, &Agency { code: agency(code)?, names }).await?;
    }
    let services = [
        ("vero-tax-card", "VERO", names("Verokortti", "Skattekort", "Tax card"), 30, &["fi", "sv", "en"][..]),
        (
            "vero-inheritance",
            "VERO",
            names("Perintöverotus", "Arvsbeskattning", "Inheritance tax"),
            45,
            &["fi", "sv"][..],
        ),
        (
            "poliisi-passport",
            "POLIISI",
            names("Passi ja henkilökortti", "Pass och identitetskort", "Passport and ID card"),
            30,
            &["fi", "sv"][..],
        ),
        (
            "te-jobseeker",
            "TE",
            names("Työnhaun aloitus", "Arbetssökande", "Registering as a jobseeker"),
            45,
            &["fi", "sv", "en"][..],
        ),
        ("kela-benefits", "KELA", names("Etuudet", "Förmåner", "Benefits"), 30, &["fi", "sv", "se"][..]),
        (
            "migri-residence",
            "MIGRI",
            names("Oleskelulupa", "Uppehållstillstånd", "Residence permit"),
            60,
            &["fi", "sv", "en"][..],
        ),
    ];
    for (id, code, names, minutes, languages) in services {
        let service = Service {
            id: id.into(),
            agency: agency(code)?,
            names,
            duration_minutes: minutes,
            languages: tags(languages)?,
            remote_capable: true,
        };
        directory::upsert_service(store, &service).await?;
    }
    let points = [
        ("sp-kemi", "Kemi", "Valtakatu 26, 94100 Kemi"),
        ("sp-inari", "Inari", "Piiskuntie 5, 99870 Inari"),
        ("sp-kuusamo", "Kuusamo", "Kitkantie 20, 93600 Kuusamo"),
    ];
    for (id, municipality, address) in points {
        let point_record = ServicePoint {
            id: point(id)?,
            municipality: municipality.into(),
            address: address.into(),
            time_zone: TimeZone::default(),
            opening_hours: weekdays(9, 16),
        };
        directory::upsert_service_point(store, &point_record).await?;
        let kiosk = Kiosk {
            id: format!("kiosk-{}-1", id.trim_start_matches("sp-")),
            service_point: point(id)?,
            active: true,
            audio_cues: false,
        };
        directory::upsert_kiosk(store, &kiosk).await?;
        for code in ["VERO", "POLIISI", "TE", "KELA", "MIGRI"] {
            let agreement = Agreement {
                service_point: point(id)?,
                agency: agency(code)?,
                base_share_cents: 150_000,
                per_transaction_cents: 2_500,
            };
            directory::upsert_agreement(store, &agreement).await?;
        }
    }
    let experts = [
        ("expert-vero-1", "VERO", &["fi", "sv"][..], &["vero-tax-card", "vero-inheritance"][..]),
        ("expert-vero-2", "VERO", &["fi", "en"][..], &["vero-tax-card"][..]),
        ("expert-poliisi-1", "POLIISI", &["fi", "sv"][..], &["poliisi-passport"][..]),
        ("expert-te-1", "TE", &["fi", "en"][..], &["te-jobseeker"][..]),
        ("expert-kela-1", "KELA", &["fi", "sv", "se"][..], &["kela-benefits"][..]),
        ("expert-migri-1", "MIGRI", &["fi", "en"][..], &["migri-residence"][..]),
    ];
    for (id, code, languages, services) in experts {
        let expert = Expert {
            id: id.into(),
            agency: agency(code)?,
            languages: tags(languages)?,
            services: services.iter().map(|service| (*service).to_owned()).collect(),
            working_hours: weekdays(8, 16),
        };
        directory::upsert_expert(store, &expert).await?;
    }
    let interpreters = [
        ("interpreter-sv-1", &["sv", "fi"][..]),
        ("interpreter-se-1", &["se", "fi"][..]),
        ("interpreter-fse-1", &["fse", "fi"][..]),
        ("interpreter-ar-1", &["ar", "fi"][..]),
    ];
    for (id, languages) in interpreters {
        let interpreter = Interpreter { id: id.into(), languages: tags(languages)?, working_hours: weekdays(8, 16) };
        directory::upsert_interpreter(store, &interpreter).await?;
    }
    let holidays = [
        ("2026-12-24", "Jouluaatto"),
        ("2026-12-25", "Joulupäivä"),
        ("2026-12-26", "Tapaninpäivä"),
        ("2027-01-01", "Uudenvuodenpäivä"),
        ("2027-01-06", "Loppiainen"),
        ("2027-03-26", "Pitkäperjantai"),
        ("2027-03-29", "2. pääsiäispäivä"),
        ("2027-05-01", "Vappu"),
        ("2027-05-06", "Helatorstai"),
        ("2027-06-25", "Juhannusaatto"),
        ("2027-12-06", "Itsenäisyyspäivä"),
    ];
    for (date, name) in holidays {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(AppError::internal)?;
        directory::upsert_holiday(store, &Holiday { date, name: name.into() }).await?;
    }
    Ok(())
}
