//! Integration tests of the signal service: a real server on port 0, real
//! WebSocket clients, real tokens. Media sits behind a test double of the
//! `MediaControl` trait. `records_reach_booking_across_processes` runs real
//! `silta signal` and `silta booking` processes on a private NATS server and
//! a fresh PostgreSQL database (no media); `deployment_endpoints` checks
//! TLS, probes and `silta migrate` on real processes.

mod bad_input_keeps_the_connection;
mod connection_limits_and_shutdown;
mod deployment_endpoints;
mod kiosk_device_credential_exchange;
mod kiosk_self_test_probes;
mod media_is_relayed;
mod media_rooms_are_queued_apart;
mod reconnect_within_and_after_the_window;
mod records_reach_booking_across_processes;
mod revoked_kiosk_credentials_are_refused_across_processes;
mod routes_refuse_without_a_socket;
mod signal_nodes_survive_a_nats_server_loss;
mod whole_service_session;
