//! Slot search: opening hours, working hours, holidays, DST; the directory
//! each booking process keeps in memory follows every change at once.

use chrono::{Datelike, Duration, Utc};
use serde_json::json;
use silta_tests::booking::{Database, spawn_booking};

use sqlx::Connection as _;

use crate::fixture::{
    self, advisor, book_body, chrono_tz_free::last_sunday, helsinki, seed, slots_path, starts, weekdays,
};

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

/// Two booking processes on one database; one searches while the other,
/// and a person at a SQL prompt, change the directory under it.
async fn every_process_sees_a_directory_change_on_its_next_search(database: Database) {
    let writer = spawn_booking(database).await;
    seed(&writer).await;
    let reader = writer.another_process().await;
    let token = advisor(&writer);
    let monday = fixture::monday_ahead();
    let week = slots_path(monday, monday + Duration::days(4), "fi", None);
    let search = async |app: &silta_tests::booking::BookingTestApp| {
        let reply = app.get(&week, Some(&token)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        starts(&reply.body)
    };
    assert_eq!(search(&reader).await.len(), 27 * 5, "loaded into the reader's memory");

    // Through the other process's API: both experts now work mornings only.
    for (id, languages) in [("expert-a", json!(["fi", "sv"])), ("expert-b", json!(["fi"]))] {
        writer
            .admin_post(
                "/api/v1/experts",
                json!({"id": id, "agency": "VERO", "languages": languages, "services": [fixture::SERVICE],
                       "working_hours": weekdays("08:00", "12:00")}),
            )
            .await;
    }
    let mornings = search(&reader).await;
    assert_eq!(mornings.len(), 11 * 5, "09:00–11:30 starts: {mornings:?}");
    assert!(!mornings.contains(&helsinki(monday, 11, 45)));

    // By hand, past every process: the kiosk taken out of use, then back
    // with one expert's hours deleted.
    let mut sql = sqlx::AnyConnection::connect(&writer.database_url).await.expect("connect to the database");
    sqlx::query("UPDATE kiosks SET active = 0").execute(&mut sql).await.unwrap();
    assert_eq!(search(&reader).await, Vec::<String>::new(), "no active kiosk, no slot");
    sqlx::query("UPDATE kiosks SET active = 1").execute(&mut sql).await.unwrap();
    sqlx::query("DELETE FROM working_hours WHERE resource = 'expert:expert-b'").execute(&mut sql).await.unwrap();
    assert_eq!(search(&reader).await.len(), 11 * 5, "expert-a still works mornings");
    let mut named = book_body(&helsinki(monday, 9, 0), "fi");
    named["expert"] = json!("expert-b");
    let refused = reader.post("/api/v1/appointments", Some(&token), named, &[]).await;
    assert_eq!((refused.status, refused.code()), (409, "expert_unavailable"), "{refused:?}");

    // Bookings are never kept in memory: one made through either process
    // is gone from the other's next search.
    let booked = writer.post("/api/v1/appointments", Some(&token), book_body(&helsinki(monday, 9, 0), "fi"), &[]).await;
    assert_eq!(booked.status, 201, "{booked:?}");
    assert_eq!(booked.body["expert"], "expert-a");
    let after = search(&reader).await;
    assert!(!after.contains(&helsinki(monday, 9, 0)) && !after.contains(&helsinki(monday, 9, 15)), "{after:?}");
    assert!(after.contains(&helsinki(monday, 9, 30)));

    // A holiday added through the reader closes the day in the writer too.
    reader.admin_post("/api/v1/holidays", json!({"date": monday.to_string(), "name": "test holiday"})).await;
    assert_eq!(search(&writer).await.len(), 11 * 4);
}

crate::on_both_databases!(
    slots_stay_inside_opening_and_working_hours,
    the_week_of_the_autumn_dst_change_keeps_local_times,
    every_process_sees_a_directory_change_on_its_next_search
);
