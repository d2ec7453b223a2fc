//! Integration tests of the booking service over HTTP. Every scenario runs
//! twice — on a fresh SQLite file and on a fresh PostgreSQL database.

mod fixture;

mod booking_reserves_each_resource_once;
mod contact_details_go_when_no_longer_needed;
mod documents_are_emailed_once_and_kept_nowhere;
mod kiosk_credentials_are_issued_listed_and_revoked;
mod migrations_make_the_same_schema;
mod notifications_are_delivered_from_the_outbox;
mod openapi_document_is_served;
mod records_are_stored_once;
mod requests_are_rate_limited;
mod roles_see_only_their_own_work;
mod routes_refuse_in_process;
mod slot_search_follows_the_calendars;
mod statistics_count_completed_transactions;

/// Generates a `sqlite` and a `postgres` test for each scenario function.
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$scenario(silta_tests::booking::Database::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$scenario(silta_tests::booking::Database::Postgres).await;
                }
            }
        )*
    };
}
