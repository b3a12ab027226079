//! Organisation settings an admin changes, and each person's own time zone.
//! The organisation's zone is kept in memory (read at start, replaced on
//! save, re-read every few seconds so other instances' changes arrive), so
//! resolving a viewer's zone costs no query.

use std::sync::RwLock;

use chrono_tz::Tz;

use crate::db::{Db, now};
use crate::domain::role::Role;
use crate::domain::when::parse_zone;
use crate::services::audit::{Entry, Outcome, record};
use crate::services::{Actor, RequestMeta, ServiceError};
use crate::store::settings;

/// The key of the organisation's default time zone.
pub const TIME_ZONE: &str = "time_zone";

/// How often the organisation's settings are re-read from the database.
pub const REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// The organisation's settings as this process last read them.
#[derive(Debug)]
pub struct OrgSettings {
    zone: RwLock<Tz>,
}

impl Default for OrgSettings {
    fn default() -> Self {
        OrgSettings { zone: RwLock::new(chrono_tz::UTC) }
    }
}

impl OrgSettings {
    /// The organisation's default time zone (UTC unless an admin chose one).
    pub fn zone(&self) -> Tz {
        *self.zone.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_zone(&self, zone: Tz) {
        *self.zone.write().unwrap_or_else(std::sync::PoisonError::into_inner) = zone;
    }

    /// Re-reads the settings from the database.
    pub async fn refresh(&self, db: &Db) -> Result<(), ServiceError> {
        let stored = db.read(|conn| Ok::<_, ServiceError>(settings::get(conn, TIME_ZONE)?)).await?;
        self.set_zone(stored.as_deref().and_then(parse_zone).unwrap_or(chrono_tz::UTC));
        Ok(())
    }

    /// The zone `actor` reads times in: their own, else the organisation's.
    pub fn zone_of(&self, actor: &Actor) -> Tz {
        actor.time_zone.unwrap_or_else(|| self.zone())
    }
}

/// An admin sets the organisation's default time zone (audited).
pub async fn set_org_zone(
    db: &Db,
    org: &OrgSettings,
    actor: &Actor,
    meta: &RequestMeta,
    name: &str,
) -> Result<Tz, ServiceError> {
    if actor.role != Role::Admin {
        return Err(ServiceError::Forbidden);
    }
    let zone = parse_zone(name)
        .ok_or_else(|| ServiceError::field("time_zone", "Choose a time zone from the list (such as Europe/Berlin)."))?;
    let (actor_id, meta) = (actor.id, meta.clone());
    db.write(move |conn| -> Result<(), ServiceError> {
        let before = settings::get(conn, TIME_ZONE)?.unwrap_or_else(|| "UTC".into());
        settings::put(conn, TIME_ZONE, zone.name(), now())?;
        record(
            conn,
            &meta,
            Entry {
                actor_id: Some(actor_id),
                action: "settings.time_zone",
                resource_type: "org_settings",
                resource_id: Some(TIME_ZONE.into()),
                outcome: Outcome::Success,
                details: format!("{before} → {}", zone.name()),
            },
        )?;
        Ok(())
    })
    .await?;
    org.set_zone(zone);
    Ok(zone)
}

/// A person sets their own time zone; empty means "the organisation's".
pub async fn set_my_zone(db: &Db, actor: &Actor, name: &str) -> Result<Option<Tz>, ServiceError> {
    let zone = match name.trim() {
        "" => None,
        other => Some(parse_zone(other).ok_or_else(|| {
            ServiceError::field("time_zone", "Choose a time zone from the list, or the organisation's default.")
        })?),
    };
    let id = actor.id;
    db.write(move |conn| Ok::<_, ServiceError>(settings::set_user_zone(conn, id, zone.map(Tz::name), now())?)).await?;
    Ok(zone)
}
