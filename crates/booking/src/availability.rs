//! Free-slot computation: the intersection of a service point's opening
//! hours, experts' working hours, kiosks' free time and (when asked) an
//! interpreter's free time, on a 15-minute grid.
//!
//! Pure and synchronous: the store loads the calendars and bookings, this
//! module computes. Local times become absolute instants through the time
//! zone database, so a slot at 09:00 Helsinki time is 07:00 UTC in winter
//! and 06:00 UTC in summer, and a local time that does not exist (the
//! spring-forward gap) produces no slot.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// The booking grid, in seconds.
pub const SLOT_SECONDS: i64 = 15 * 60;

/// A time-of-day interval in minutes after local midnight, `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DayInterval {
    /// First minute.
    pub start: u16,
    /// Minute after the last.
    pub end: u16,
}

impl DayInterval {
    /// A valid interval, or `None`.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start < end && end <= 24 * 60).then_some(Self { start, end })
    }
}

/// Weekly hours: index 0 is Monday.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours(pub [Vec<DayInterval>; 7]);

impl WeeklyHours {
    /// Adds hours on an ISO weekday (1 = Monday … 7 = Sunday).
    pub fn add(&mut self, iso_weekday: u8, interval: DayInterval) {
        if (1..=7).contains(&iso_weekday) {
            self.0[usize::from(iso_weekday - 1)].push(interval);
        }
    }

    fn on(&self, date: NaiveDate) -> &[DayInterval] {
        &self.0[date.weekday().num_days_from_monday() as usize]
    }
}

/// A service point's calendar.
#[derive(Debug, Clone)]
pub struct PointCalendar {
    /// The point's time zone.
    pub time_zone: Tz,
    /// Regular weekly opening hours.
    pub weekly: WeeklyHours,
    /// Dates with other hours; `None` means closed.
    pub exceptions: HashMap<NaiveDate, Option<DayInterval>>,
    /// Public holidays (closed unless an exception opens the point).
    pub holidays: HashSet<NaiveDate>,
}

impl PointCalendar {
    /// Opening hours on a local date.
    pub fn open_on(&self, date: NaiveDate) -> Vec<DayInterval> {
        if let Some(exception) = self.exceptions.get(&date) {
            return exception.iter().copied().collect();
        }
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        self.weekly.on(date).to_vec()
    }
}

/// A bookable resource: an expert, a kiosk or an interpreter. Its working
/// intervals that touch join: 09–12 and 12–16 take a slot across noon.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its id.
    pub id: String,
    /// Working hours; `None` means "whenever the point is open" (kiosks).
    /// Shared: a search borrows them from the directory in memory.
    pub hours: Option<Arc<WeeklyHours>>,
    /// Time zone of the working hours.
    pub time_zone: Tz,
    /// Start instants (Unix seconds) of grid slots already booked.
    pub booked: BTreeSet<i64>,
}

/// What to search.
#[derive(Debug, Clone)]
pub struct SlotQuery {
    /// First local date.
    pub from: NaiveDate,
    /// Last local date (inclusive).
    pub to: NaiveDate,
    /// Length of the service, a multiple of 15 minutes.
    pub duration_minutes: u32,
    /// The point.
    pub point: PointCalendar,
    /// Experts who offer the service in the language.
    pub experts: Vec<Resource>,
    /// The point's active kiosks.
    pub kiosks: Vec<Resource>,
    /// Interpreters of the requested language, when one is needed.
    pub interpreters: Option<Vec<Resource>>,
    /// No slot may start before this instant (Unix seconds).
    pub not_before: i64,
}

/// A free slot and who could serve it, as indices into the query's lists
/// (ids are looked up only where needed: cloning hundreds of ids per slot
/// dominated the computation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeSlot {
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// End, Unix seconds.
    pub ends_at: i64,
    /// Free experts: indices into `SlotQuery::experts`, in order (the
    /// first of them only, when listing was limited).
    pub experts: Vec<u32>,
    /// How many experts are free.
    pub experts_free: usize,
    /// Free kiosks: indices into `SlotQuery::kiosks`.
    pub kiosks: Vec<u32>,
    /// Free interpreters: indices into `SlotQuery::interpreters` (empty when
    /// none was asked for).
    pub interpreters: Vec<u32>,
}

/// The absolute instant of a local date and minute, or `None` in a gap.
pub fn local_instant(time_zone: Tz, date: NaiveDate, minute: u16) -> Option<i64> {
    if minute == 24 * 60 {
        return local_instant(time_zone, date.succ_opt()?, 0);
    }
    let time = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
    time_zone.from_local_datetime(&date.and_time(time)).earliest().map(|instant| instant.timestamp())
}

fn absolute(time_zone: Tz, date: NaiveDate, intervals: &[DayInterval]) -> Vec<(i64, i64)> {
    intervals
        .iter()
        .filter_map(|interval| {
            Some((local_instant(time_zone, date, interval.start)?, local_instant(time_zone, date, interval.end)?))
        })
        .collect()
}

/// One resource on one day: where it may be booked, as a bit per 15-minute
/// unit from the day's first opening instant (`origin`), so a slot's check
/// is a shift and a compare. Every zone's offset is a whole number of
/// quarter hours, so every grid instant is a whole number of units from
/// `origin`; anything that is not (or lies beyond the mask's 128 units)
/// takes the exact, slower path.
struct DayView<'a> {
    index: u32,
    resource: &'a Resource,
    windows: Option<Rc<[(i64, i64)]>>,
    free: u128,
}

/// Units a day's mask holds (32 hours: a 25-hour DST day fits).
const MASK_UNITS: i64 = 128;

/// The mask of units inside `windows` (all of them when `None`).
fn window_mask(windows: Option<&[(i64, i64)]>, origin: i64) -> u128 {
    let mut free: u128 = 0;
    let mut set = |from: i64, to: i64| {
        let first = (from - origin + SLOT_SECONDS - 1).div_euclid(SLOT_SECONDS).clamp(0, MASK_UNITS);
        let last = (to - origin).div_euclid(SLOT_SECONDS).clamp(0, MASK_UNITS);
        for unit in first..last {
            free |= 1u128 << unit;
        }
    };
    match windows {
        None => set(origin, origin + MASK_UNITS * SLOT_SECONDS),
        Some(windows) => windows.iter().for_each(|(from, to)| set(*from, *to)),
    }
    free
}

impl<'a> DayView<'a> {
    /// `windows` and `free` are the resource's hours on the day, before
    /// its bookings.
    fn new(index: u32, resource: &'a Resource, windows: Option<Rc<[(i64, i64)]>>, mut free: u128, origin: i64) -> Self {
        let end = origin + MASK_UNITS * SLOT_SECONDS;
        // A booked unit is [start, start + 15 min): it takes every unit it touches.
        for start in resource.booked.range(origin - SLOT_SECONDS + 1..end) {
            let offset = start - origin;
            for unit in [offset.div_euclid(SLOT_SECONDS), (offset + SLOT_SECONDS - 1).div_euclid(SLOT_SECONDS)] {
                if (0..MASK_UNITS).contains(&unit) {
                    free &= !(1u128 << unit);
                }
            }
        }
        Self { index, resource, windows, free }
    }

    /// Whether `[start, end)` is free; `units` is the slot's bits from
    /// [`slot_units`] (every view of a day shares its origin).
    fn free(&self, units: Option<u128>, start: i64, end: i64) -> bool {
        match units {
            Some(bits) => self.free & bits == bits,
            None => self.free_exactly(start, end),
        }
    }

    fn free_exactly(&self, start: i64, end: i64) -> bool {
        let within = |from: i64, to: i64| match &self.windows {
            None => true,
            Some(windows) => windows.iter().any(|(open, close)| *open <= from && to <= *close),
        };
        // Unit by unit, like the mask: adjacent intervals join.
        occupied_units(start, end).all(|unit| within(unit, (unit + SLOT_SECONDS).min(end)))
            && self.resource.booked.range(start - SLOT_SECONDS + 1..end).next().is_none()
    }
}

/// A resource's hours on a day, by zone and intervals.
type HoursKey<'a> = (Tz, &'a [DayInterval]);

/// Those hours as instants, and as a mask before bookings.
type DayHours = (Rc<[(i64, i64)]>, u128);

fn day_views(resources: &[Resource], date: NaiveDate, origin: i64) -> Vec<DayView<'_>> {
    // Many resources share their hours (office hours): each distinct set
    // of hours is turned into instants (time zone lookups) and a mask once
    // a day, not once per resource.
    let mut shared: HashMap<HoursKey<'_>, DayHours> = HashMap::new();
    // The last resource's, checked first: neighbours often share hours,
    // and comparing is cheaper than hashing.
    let mut last: Option<(HoursKey<'_>, DayHours)> = None;
    let all_day = window_mask(None, origin);
    resources
        .iter()
        .enumerate()
        .filter_map(|(index, resource)| {
            let (windows, free) = match &resource.hours {
                None => (None, all_day),
                Some(hours) => {
                    let intervals = hours.on(date);
                    if intervals.is_empty() {
                        return None;
                    }
                    let key = (resource.time_zone, intervals);
                    let (windows, free) = match &last {
                        Some((seen, value)) if *seen == key => value.clone(),
                        _ => {
                            let value = shared
                                .entry(key)
                                .or_insert_with(|| {
                                    let windows: Rc<[(i64, i64)]> =
                                        absolute(resource.time_zone, date, intervals).into();
                                    let free = window_mask(Some(&windows), origin);
                                    (windows, free)
                                })
                                .clone();
                            last = Some((key, value.clone()));
                            value
                        }
                    };
                    if windows.is_empty() {
                        return None;
                    }
                    (Some(windows), free)
                }
            };
            Some(DayView::new(u32::try_from(index).unwrap_or(u32::MAX), resource, windows, free, origin))
        })
        .collect()
}

/// The mask bits of `[start, end)` from `origin`, or `None` when the slot
/// is off the grid or beyond the mask (then checked exactly).
fn slot_units(origin: i64, start: i64, end: i64) -> Option<u128> {
    let (offset, length) = (start - origin, end - start);
    let (first, count) = (offset / SLOT_SECONDS, length / SLOT_SECONDS);
    let fits = offset >= 0 && offset % SLOT_SECONDS == 0 && length % SLOT_SECONDS == 0;
    (fits && count < MASK_UNITS && first + count <= MASK_UNITS).then(|| ((1u128 << count) - 1) << first)
}

/// Every free view's index.
fn free_ids(views: &[DayView<'_>], units: Option<u128>, start: i64, end: i64) -> Vec<u32> {
    free_ids_counted(views, units, start, end, usize::MAX).0
}

/// The first `listed` free views' indices, and how many are free.
fn free_ids_counted(
    views: &[DayView<'_>],
    units: Option<u128>,
    start: i64,
    end: i64,
    listed: usize,
) -> (Vec<u32>, usize) {
    let mut ids = Vec::new();
    let mut count = 0;
    for view in views.iter().filter(|view| view.free(units, start, end)) {
        if count < listed {
            ids.push(view.index);
        }
        count += 1;
    }
    (ids, count)
}

/// Computes every free slot of the query, in time order, each with every
/// free expert.
pub fn free_slots(query: &SlotQuery) -> Vec<FreeSlot> {
    free_slots_listing(query, usize::MAX)
}

/// Computes every free slot of the query, in time order, each with its
/// first `listed` free experts and their count (a search shows a few; a
/// booking needs them all).
pub fn free_slots_listing(query: &SlotQuery, listed: usize) -> Vec<FreeSlot> {
    let length = i64::from(query.duration_minutes) * 60;
    let mut slots = Vec::new();
    if length <= 0 || length % SLOT_SECONDS != 0 {
        return slots;
    }
    let mut date = query.from;
    while date <= query.to {
        let opening = absolute(query.point.time_zone, date, &query.point.open_on(date));
        let Some(origin) = opening.iter().map(|(open, _)| *open).min() else {
            date += Duration::days(1);
            continue;
        };
        let experts = day_views(&query.experts, date, origin);
        let kiosks = day_views(&query.kiosks, date, origin);
        let interpreters = query.interpreters.as_ref().map(|list| day_views(list, date, origin));
        for (open, close) in opening {
            let mut start = open;
            while start + length <= close {
                let end = start + length;
                if start >= query.not_before {
                    let units = slot_units(origin, start, end);
                    let (free_experts, experts_free) = free_ids_counted(&experts, units, start, end, listed.max(1));
                    let free_kiosks =
                        if free_experts.is_empty() { Vec::new() } else { free_ids(&kiosks, units, start, end) };
                    let free_interpreters = match &interpreters {
                        Some(views) if !free_kiosks.is_empty() => free_ids(views, units, start, end),
                        _ => Vec::new(),
                    };
                    let interpreter_ok = interpreters.is_none() || !free_interpreters.is_empty();
                    if !free_experts.is_empty() && !free_kiosks.is_empty() && interpreter_ok {
                        slots.push(FreeSlot {
                            starts_at: start,
                            ends_at: end,
                            experts: free_experts,
                            experts_free,
                            kiosks: free_kiosks,
                            interpreters: free_interpreters,
                        });
                    }
                }
                start += SLOT_SECONDS;
            }
        }
        date += Duration::days(1);
    }
    slots
}

/// The grid slot starts that `[starts_at, ends_at)` occupies.
pub fn occupied_units(starts_at: i64, ends_at: i64) -> impl Iterator<Item = i64> {
    (starts_at..ends_at).step_by(SLOT_SECONDS as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn helsinki() -> Tz {
        chrono_tz::Europe::Helsinki
    }

    fn weekdays(start: u16, end: u16) -> WeeklyHours {
        let mut hours = WeeklyHours::default();
        for day in 1..=5 {
            hours.add(day, DayInterval::new(start, end).unwrap());
        }
        hours
    }

    fn point() -> PointCalendar {
        PointCalendar {
            time_zone: helsinki(),
            weekly: weekdays(9 * 60, 16 * 60),
            exceptions: HashMap::new(),
            holidays: HashSet::new(),
        }
    }

    fn resource(id: &str, hours: Option<WeeklyHours>) -> Resource {
        Resource { id: id.into(), hours: hours.map(Arc::new), time_zone: helsinki(), booked: BTreeSet::new() }
    }

    fn query(from: NaiveDate, to: NaiveDate) -> SlotQuery {
        SlotQuery {
            from,
            to,
            duration_minutes: 30,
            point: point(),
            experts: vec![resource("e1", Some(weekdays(8 * 60, 12 * 60)))],
            kiosks: vec![resource("k1", None)],
            interpreters: None,
            not_before: 0,
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn nine_oclock_helsinki_moves_in_utc_across_the_spring_dst_change() {
        // DST began in Finland on Sunday 2026-03-29.
        let slots = free_slots(&query(date(2026, 3, 27), date(2026, 3, 30)));
        let firsts: Vec<i64> = [date(2026, 3, 27), date(2026, 3, 30)]
            .iter()
            .map(|day| {
                let first = slots.iter().find(|slot| {
                    chrono::DateTime::from_timestamp(slot.starts_at, 0).unwrap().with_timezone(&helsinki()).date_naive()
                        == *day
                });
                first.unwrap().starts_at
            })
            .collect();
        let utc = |t: i64| chrono::DateTime::from_timestamp(t, 0).unwrap().format("%H:%M").to_string();
        assert_eq!(utc(firsts[0]), "07:00", "Friday, winter time UTC+2");
        assert_eq!(utc(firsts[1]), "06:00", "Monday, summer time UTC+3");
        // Weekend: closed. 09:00–12:00 (the expert's end) in 30-minute slots on a 15-minute grid.
        assert_eq!(slots.len(), 2 * 11);
    }

    #[test]
    fn holidays_close_and_exceptions_override() {
        let mut q = query(date(2026, 12, 24), date(2026, 12, 25));
        q.point.holidays.insert(date(2026, 12, 25));
        q.point.exceptions.insert(date(2026, 12, 24), DayInterval::new(9 * 60, 10 * 60));
        let slots = free_slots(&q);
        assert_eq!(slots.len(), 3, "only 09:00, 09:15, 09:30 on Christmas Eve; Christmas Day closed");
    }

    #[test]
    fn a_booked_kiosk_blocks_the_slot_even_with_free_experts() {
        let mut q = query(date(2026, 6, 1), date(2026, 6, 1));
        let nine = local_instant(helsinki(), date(2026, 6, 1), 9 * 60).unwrap();
        q.kiosks[0].booked.insert(nine + SLOT_SECONDS);
        let starts: Vec<i64> = free_slots(&q).iter().map(|slot| slot.starts_at).collect();
        assert!(!starts.contains(&nine), "09:00–09:30 overlaps the 09:15 booking");
        assert!(!starts.contains(&(nine + SLOT_SECONDS)));
        assert!(starts.contains(&(nine + 2 * SLOT_SECONDS)));
    }

    #[test]
    fn an_interpreter_must_also_be_free_when_asked_for() {
        let mut q = query(date(2026, 6, 1), date(2026, 6, 1));
        let mut hours = WeeklyHours::default();
        hours.add(1, DayInterval::new(10 * 60, 11 * 60).unwrap());
        q.interpreters = Some(vec![resource("i1", Some(hours))]);
        let slots = free_slots(&q);
        assert_eq!(slots.len(), 3);
        assert!(slots.iter().all(|slot| slot.interpreters == vec![0]));
    }

    #[test]
    fn touching_working_intervals_take_a_slot_across_them() {
        let mut q = query(date(2026, 6, 1), date(2026, 6, 1));
        let mut hours = WeeklyHours::default();
        hours.add(1, DayInterval::new(9 * 60, 12 * 60).unwrap());
        hours.add(1, DayInterval::new(12 * 60, 13 * 60).unwrap());
        q.experts = vec![resource("e1", Some(hours))];
        let starts: Vec<i64> = free_slots(&q).iter().map(|slot| slot.starts_at).collect();
        let at = |hour: u16, minute: u16| local_instant(helsinki(), date(2026, 6, 1), hour * 60 + minute).unwrap();
        assert!(starts.contains(&at(11, 45)), "11:45–12:15 spans both intervals");
        assert_eq!(starts.len(), 15, "09:00, 09:15 … 12:30");
    }

    #[test]
    fn the_spring_forward_gap_produces_no_slot() {
        assert!(local_instant(helsinki(), date(2026, 3, 29), 3 * 60 + 30).is_none());
        assert!(local_instant(helsinki(), date(2026, 3, 29), 4 * 60 + 30).is_some());
    }

    fn arb_interval() -> impl Strategy<Value = DayInterval> {
        (0u16..95, 1u16..40).prop_map(|(start, len)| {
            let start = start * 15;
            DayInterval::new(start, (start + len * 15).min(1440)).unwrap()
        })
    }

    fn arb_week() -> impl Strategy<Value = WeeklyHours> {
        prop::collection::vec((1u8..=7, arb_interval()), 0..10).prop_map(|list| {
            let mut hours = WeeklyHours::default();
            for (day, interval) in list {
                hours.add(day, interval);
            }
            hours
        })
    }

    fn within(tz: Tz, hours: &[DayInterval], date: NaiveDate, start: i64, end: i64) -> bool {
        absolute(tz, date, hours).iter().any(|(from, to)| *from <= start && end <= *to)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// No slot outside opening hours or the chosen expert's working
        /// hours, and none overlapping an existing booking of the resources
        /// it offers.
        #[test]
        fn slots_respect_hours_and_bookings(
            point_week in arb_week(),
            expert_weeks in prop::collection::vec(arb_week(), 1..4),
            booked in prop::collection::vec((0usize..4, 0i64..(14 * 96)), 0..40),
            kiosk_booked in prop::collection::vec(0i64..(14 * 96), 0..20),
            duration in 1u32..5,
            start_day in 0u32..365,
        ) {
            let tz = helsinki();
            let from = date(2026, 1, 1) + Duration::days(i64::from(start_day));
            let to = from + Duration::days(13);
            let origin = local_instant(tz, from, 0).unwrap();
            let mut experts: Vec<Resource> = expert_weeks
                .iter()
                .enumerate()
                .map(|(n, week)| resource(&format!("e{n}"), Some(week.clone())))
                .collect();
            for (who, unit) in &booked {
                if let Some(expert) = experts.get_mut(*who) {
                    expert.booked.insert(origin + unit * SLOT_SECONDS);
                }
            }
            let mut kiosk = resource("k", None);
            kiosk.booked.extend(kiosk_booked.iter().map(|unit| origin + unit * SLOT_SECONDS));
            let q = SlotQuery {
                from, to,
                duration_minutes: duration * 15,
                point: PointCalendar { time_zone: tz, weekly: point_week, exceptions: HashMap::new(), holidays: HashSet::new() },
                experts: experts.clone(),
                kiosks: vec![kiosk.clone()],
                interpreters: None,
                not_before: 0,
            };
            for slot in free_slots(&q) {
                let local = chrono::DateTime::from_timestamp(slot.starts_at, 0).unwrap().with_timezone(&tz).date_naive();
                prop_assert!(within(tz, &q.point.open_on(local), local, slot.starts_at, slot.ends_at), "outside opening hours");
                prop_assert!(!slot.experts.is_empty());
                for index in &slot.experts {
                    let expert = &experts[*index as usize];
                    let hours = expert.hours.as_ref().unwrap();
                    prop_assert!(
                        occupied_units(slot.starts_at, slot.ends_at).all(|u| within(tz, hours.on(local), local, u, u + SLOT_SECONDS)),
                        "outside working hours"
                    );
                    prop_assert!(occupied_units(slot.starts_at, slot.ends_at).all(|u| !expert.booked.contains(&u)), "expert double-booked");
                }
                prop_assert!(occupied_units(slot.starts_at, slot.ends_at).all(|u| !kiosk.booked.contains(&u)), "kiosk double-booked");
            }
            // And every free slot is found, with every free expert: the
            // same answer as checking each start unit by unit.
            let length = i64::from(duration) * 15 * 60;
            let free = |resource: &Resource, local: NaiveDate, start: i64| {
                resource.hours.as_ref().is_none_or(|hours| {
                    occupied_units(start, start + length).all(|u| within(tz, hours.on(local), local, u, u + SLOT_SECONDS))
                })
                    && occupied_units(start, start + length).all(|u| !resource.booked.contains(&u))
            };
            let mut expected = Vec::new();
            let mut local = from;
            while local <= to {
                for (open, close) in absolute(tz, local, &q.point.open_on(local)) {
                    let mut start = open;
                    while start + length <= close {
                        let free_experts: Vec<u32> =
                            (0..experts.len()).filter(|n| free(&experts[*n], local, start)).map(|n| n as u32).collect();
                        if !free_experts.is_empty() && free(&kiosk, local, start) {
                            expected.push((start, free_experts));
                        }
                        start += SLOT_SECONDS;
                    }
                }
                local += Duration::days(1);
            }
            let found: Vec<(i64, Vec<u32>)> = free_slots(&q).into_iter().map(|slot| (slot.starts_at, slot.experts)).collect();
            prop_assert_eq!(&found, &expected);
            // Listing one expert a slot: the same slots, the first expert, the full count.
            let listed: Vec<(i64, Vec<u32>, usize)> =
                free_slots_listing(&q, 1).into_iter().map(|slot| (slot.starts_at, slot.experts, slot.experts_free)).collect();
            let expected: Vec<(i64, Vec<u32>, usize)> =
                expected.into_iter().map(|(start, experts)| (start, experts[..1].to_vec(), experts.len())).collect();
            prop_assert_eq!(listed, expected);
        }
    }
}
