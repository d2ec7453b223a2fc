//! Slot search: opening hours, working hours, holidays, DST.

use chrono::{Datelike, Duration, Utc};
use serde_json::json;
use silta_tests::booking::{Database, spawn_booking};

use crate::fixture::{self, advisor, chrono_tz_free::last_sunday, helsinki, seed, slots_path, starts};

async fn slots_stay_inside_opening_and_working_hours(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let monday = fixture::monday_ahead();
    let token = advisor(&app);
    let reply = app.get(&slots_path(monday, monday + Duration::days(6), "fi", None), Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let all = starts(&reply.body);
    // 09:00–16:00 in 30-minute services on a 15-minute grid: 27 starts a day, five weekdays.
    assert_eq!(all.len(), 27 * 5);
    assert_eq!(all[0], helsinki(monday, 9, 0));
    assert!(all.contains(&helsinki(monday, 15, 30)));
    assert!(!all.contains(&helsinki(monday, 15, 45)), "would end after closing");
    // A holiday closes the point; an exception opens it briefly.
    app.admin_post("/api/v1/holidays", json!({"date": monday.to_string(), "name": "test holiday"})).await;
    let tuesday = monday + Duration::days(1);
    app.admin_post(
        "/api/v1/opening-exceptions",
        json!({"service_point": fixture::POINT, "date": tuesday.to_string(), "opens": "12:00", "closes": "13:00"}),
    )
    .await;
    let reply = app.get(&slots_path(monday, tuesday, "fi", None), Some(&token)).await;
    assert_eq!(
        starts(&reply.body),
        vec![helsinki(tuesday, 12, 0), helsinki(tuesday, 12, 15), helsinki(tuesday, 12, 30)]
    );
    // A language the service is not offered in.
    let reply = app.get(&slots_path(monday, tuesday, "en", None), Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (422, "language_not_offered"));
    // A too-long range.
    let reply = app.get(&slots_path(monday, monday + Duration::days(40), "fi", None), Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (422, "invalid_range"));
}

async fn the_week_of_the_autumn_dst_change_keeps_local_times(database: Database) {
    let app = spawn_booking(database).await;
    seed(&app).await;
    let today = Utc::now().date_naive();
    let mut change = last_sunday(today.year(), 10);
    if change <= today + Duration::days(7) {
        change = last_sunday(today.year() + 1, 10);
    }
    let (friday, monday) = (change - Duration::days(2), change + Duration::days(1));
    let reply = app.get(&slots_path(friday, monday, "fi", None), Some(&advisor(&app))).await;
    let all = starts(&reply.body);
    // 09:00 Helsinki is 06:00 UTC on the Friday (summer) and 07:00 UTC on the Monday (winter).
    assert!(all[0].ends_with("T06:00:00Z"), "{}", all[0]);
    assert!(all.contains(&format!("{monday}T07:00:00Z")), "{all:?}");
    assert!(!all.contains(&format!("{monday}T06:00:00Z")));
    assert_eq!(all.len(), 27 * 2, "Friday and Monday; closed over the weekend");
}

crate::on_both_databases!(
    slots_stay_inside_opening_and_working_hours,
    the_week_of_the_autumn_dst_change_keeps_local_times
);
