-- Kiosk device credentials issued from the admin page: which exist, for
-- which kiosk and service point, until when, and which are revoked (the
-- signal service asks here at each token exchange and refuses a revoked
-- one). The credential itself is never stored; only its id.
CREATE TABLE device_credentials (
    id            TEXT PRIMARY KEY,
    kiosk_id      TEXT NOT NULL REFERENCES kiosks(id),
    service_point TEXT NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE INDEX device_credentials_by_kiosk ON device_credentials (kiosk_id);
