//! From a verified ID token's claims to a Silta identity: role,
//! organisation and languages come from the provider's claims only, as the
//! provider's `[auth.oidc.claims]` mapping says.

use serde_json::{Map, Value};
use silta_auth::Organisation;
use silta_proto::v1::{LanguageTag, Role, Subject};

use super::SigninError;
use super::settings::OidcProvider;

/// Who signed in, as Silta sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// `<prefix><subject claim>`.
    pub subject: Subject,
    /// The role of the app they signed in to.
    pub role: Role,
    /// Service point id or agency code (typed by the role).
    pub organisation: String,
    /// Languages they serve in.
    pub languages: Vec<LanguageTag>,
}

/// A claim as a list of strings (a string is a list of one; a string of a
/// languages claim may separate several by spaces or commas).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// The roles the claims give, in a stable order.
pub fn roles_of(provider: &OidcProvider, claims: &Map<String, Value>) -> Vec<Role> {
    let mut roles: Vec<Role> = strings(claims.get(&provider.claims.role))
        .iter()
        .filter_map(|value| provider.claims.roles.get(value).copied())
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

/// Maps the claims for the app of `app`'s role.
pub fn map_claims(provider: &OidcProvider, claims: &Map<String, Value>, app: Role) -> Result<Mapped, SigninError> {
    let mapping = &provider.claims;
    let roles = roles_of(provider, claims);
    if roles.is_empty() {
        return Err(SigninError::NoRole);
    }
    if !roles.contains(&app) {
        return Err(SigninError::OtherRole(roles));
    }
    let subject = claims.get(&mapping.subject).and_then(Value::as_str).unwrap_or_default();
    let prefix = mapping.subject_prefix.clone().unwrap_or_else(|| format!("{}:", provider.id));
    let subject = Subject::parse(format!("{prefix}{subject}"))
        .ok()
        .filter(|_| !subject.is_empty())
        .ok_or(SigninError::SubjectUnusable)?;
    let organisation = match (&mapping.fixed_organisation, &mapping.organisation) {
        (Some(fixed), _) => fixed.clone(),
        (None, Some(claim)) => {
            let values = strings(claims.get(claim));
            let mut found: Vec<String> = if mapping.organisations.is_empty() {
                values
            } else {
                values.iter().filter_map(|value| mapping.organisations.get(value).cloned()).collect()
            };
            found.sort();
            found.dedup();
            match found.len() {
                0 => return Err(SigninError::OrganisationMissing),
                1 => found.remove(0),
                _ => return Err(SigninError::OrganisationAmbiguous),
            }
        }
        (None, None) => return Err(SigninError::OrganisationMissing),
    };
    Organisation::parse(app, &organisation).map_err(|_| SigninError::OrganisationInvalid)?;
    let mut languages: Vec<LanguageTag> = mapping
        .languages
        .as_ref()
        .map(|claim| strings(claims.get(claim)))
        .unwrap_or_default()
        .iter()
        .flat_map(|value| value.split([' ', ',']))
        .filter_map(|tag| LanguageTag::parse(tag.trim()).ok())
        .collect();
    languages.dedup();
    if languages.is_empty() {
        languages = mapping.default_languages.clone();
    }
    Ok(Mapped { subject, role: app, organisation, languages })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signin::settings::ClaimMapping;
    use serde_json::json;

    fn provider(mapping: ClaimMapping) -> OidcProvider {
        OidcProvider {
            id: "kemi".into(),
            name: "Kemin kaupunki".into(),
            issuer: "https://idp.kemi.example".into(),
            client_id: "silta".into(),
            client_secret: None,
            client_secret_file: None,
            scopes: vec![],
            claims: mapping,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    fn municipality() -> OidcProvider {
        provider(ClaimMapping {
            role: "groups".into(),
            roles: [("palveluneuvoja".into(), Role::Advisor), ("silta-admin".into(), Role::Admin)].into(),
            organisation: Some("groups".into()),
            organisations: [("palvelupiste-kemi".into(), "sp-kemi".into())].into(),
            languages: Some("langs".into()),
            ..ClaimMapping::default()
        })
    }

    #[test]
    fn an_advisors_groups_give_the_role_the_service_point_and_the_languages() {
        let mapped = map_claims(
            &municipality(),
            &claims(json!({"sub": "u-17", "groups": ["kaikki", "palveluneuvoja", "palvelupiste-kemi"], "langs": "fi sv,en"})),
            Role::Advisor,
        )
        .expect("mapped");
        assert_eq!(mapped.subject.as_str(), "kemi:u-17");
        assert_eq!(mapped.role, Role::Advisor);
        assert_eq!(mapped.organisation, "sp-kemi");
        let languages: Vec<&str> = mapped.languages.iter().map(LanguageTag::as_str).collect();
        assert_eq!(languages, ["fi", "sv", "en"]);
    }

    #[test]
    fn claims_that_say_too_little_or_too_much_are_refused_each_with_its_reason() {
        let provider = municipality();
        let refuse = |value: Value, app: Role| map_claims(&provider, &claims(value), app).expect_err("refused");
        assert_eq!(refuse(json!({"sub": "u-1", "groups": ["kaikki"]}), Role::Advisor), SigninError::NoRole);
        assert_eq!(refuse(json!({"sub": "u-1"}), Role::Advisor), SigninError::NoRole);
        assert_eq!(
            refuse(json!({"sub": "u-1", "groups": ["palveluneuvoja", "palvelupiste-kemi"]}), Role::Expert),
            SigninError::OtherRole(vec![Role::Advisor])
        );
        assert_eq!(
            refuse(json!({"sub": "u-1", "groups": ["palveluneuvoja"]}), Role::Advisor),
            SigninError::OrganisationMissing
        );
        assert_eq!(
            refuse(json!({"groups": ["palveluneuvoja", "palvelupiste-kemi"]}), Role::Advisor),
            SigninError::SubjectUnusable
        );
        assert_eq!(
            refuse(json!({"sub": "has space", "groups": ["palveluneuvoja", "palvelupiste-kemi"]}), Role::Advisor),
            SigninError::SubjectUnusable
        );
    }

    #[test]
    fn an_agencys_own_provider_gives_every_expert_its_agency_and_default_languages() {
        let agency = provider(ClaimMapping {
            subject: "oid".into(),
            roles: [("Silta.Expert".into(), Role::Expert)].into(),
            fixed_organisation: Some("VERO".into()),
            ..ClaimMapping::default()
        });
        let mapped = map_claims(&agency, &claims(json!({"oid": "0f3c", "roles": "Silta.Expert"})), Role::Expert)
            .expect("mapped");
        assert_eq!((mapped.organisation.as_str(), mapped.languages[0].as_str()), ("VERO", "fi"));
        // An agency code that is not one is refused, not passed on.
        let wrong = provider(ClaimMapping {
            roles: [("Silta.Expert".into(), Role::Expert)].into(),
            fixed_organisation: Some("not an agency".into()),
            ..ClaimMapping::default()
        });
        assert_eq!(
            map_claims(&wrong, &claims(json!({"sub": "x", "roles": ["Silta.Expert"]})), Role::Expert),
            Err(SigninError::OrganisationInvalid)
        );
    }
}
