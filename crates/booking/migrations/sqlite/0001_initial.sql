-- Silta booking schema (SQLite). Times are UTC Unix seconds (BIGINT);
-- local dates are 'YYYY-MM-DD' text and times of day are minutes after
-- midnight in the service point's time zone. Lists are comma-separated.

CREATE TABLE agencies (
    code      TEXT PRIMARY KEY,
    name_fi   TEXT NOT NULL,
    name_sv   TEXT NOT NULL,
    name_en   TEXT NOT NULL
);

CREATE TABLE services (
    id               TEXT PRIMARY KEY,
    agency_code      TEXT NOT NULL REFERENCES agencies(code),
    name_fi          TEXT NOT NULL,
    name_sv          TEXT NOT NULL,
    name_en          TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0 AND duration_minutes % 15 = 0),
    languages        TEXT NOT NULL,
    remote_capable   INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE service_points (
    id           TEXT PRIMARY KEY,
    municipality TEXT NOT NULL,
    address      TEXT NOT NULL,
    time_zone    TEXT NOT NULL DEFAULT 'Europe/Helsinki'
);

CREATE TABLE opening_hours (
    service_point_id TEXT NOT NULL REFERENCES service_points(id),
    weekday          INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    opens_minute     INTEGER NOT NULL CHECK (opens_minute BETWEEN 0 AND 1440),
    closes_minute    INTEGER NOT NULL CHECK (closes_minute BETWEEN 0 AND 1440),
    PRIMARY KEY (service_point_id, weekday, opens_minute),
    CHECK (opens_minute < closes_minute)
);

-- A date with other hours than usual; NULL hours mean closed that day.
CREATE TABLE opening_exceptions (
    service_point_id TEXT NOT NULL REFERENCES service_points(id),
    date             TEXT NOT NULL,
    opens_minute     INTEGER,
    closes_minute    INTEGER,
    reason           TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service_point_id, date)
);

CREATE TABLE public_holidays (
    date TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE kiosks (
    id               TEXT PRIMARY KEY,
    service_point_id TEXT NOT NULL REFERENCES service_points(id),
    active           INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE experts (
    id          TEXT PRIMARY KEY,
    agency_code TEXT NOT NULL REFERENCES agencies(code),
    languages   TEXT NOT NULL,
    services    TEXT NOT NULL,
    time_zone   TEXT NOT NULL DEFAULT 'Europe/Helsinki'
);

CREATE TABLE interpreters (
    id        TEXT PRIMARY KEY,
    languages TEXT NOT NULL,
    time_zone TEXT NOT NULL DEFAULT 'Europe/Helsinki'
);

-- Weekly working hours of experts and interpreters (resource = 'expert:ID'
-- or 'interpreter:ID').
CREATE TABLE working_hours (
    resource     TEXT NOT NULL,
    weekday      INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1440),
    end_minute   INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1440),
    PRIMARY KEY (resource, weekday, start_minute),
    CHECK (start_minute < end_minute)
);

CREATE TABLE appointments (
    id                   TEXT PRIMARY KEY,
    agency_code          TEXT NOT NULL REFERENCES agencies(code),
    service_id           TEXT NOT NULL REFERENCES services(id),
    service_point_id     TEXT NOT NULL REFERENCES service_points(id),
    kiosk_id             TEXT NOT NULL REFERENCES kiosks(id),
    expert_id            TEXT NOT NULL REFERENCES experts(id),
    interpreter_id       TEXT REFERENCES interpreters(id),
    language             TEXT NOT NULL,
    interpreter_language TEXT,
    starts_at            BIGINT NOT NULL,
    ends_at              BIGINT NOT NULL,
    status               TEXT NOT NULL,
    room_id              TEXT NOT NULL UNIQUE,
    contact_email        TEXT,
    contact_phone        TEXT,
    idempotency_key      TEXT UNIQUE,
    request_hash         TEXT,
    created_by           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CHECK (starts_at < ends_at)
);
CREATE INDEX appointments_by_time ON appointments (starts_at);

-- The database's own guarantee against double booking: every 15-minute
-- slot a booking occupies is a row, unique per resource.
CREATE TABLE resource_slots (
    resource       TEXT NOT NULL,
    slot_start     BIGINT NOT NULL,
    appointment_id TEXT NOT NULL REFERENCES appointments(id),
    PRIMARY KEY (resource, slot_start)
);
CREATE INDEX resource_slots_by_time ON resource_slots (slot_start);
CREATE INDEX resource_slots_by_appointment ON resource_slots (appointment_id);

CREATE TABLE queue_requests (
    id                   TEXT PRIMARY KEY,
    kiosk_id             TEXT NOT NULL REFERENCES kiosks(id),
    service_point_id     TEXT NOT NULL REFERENCES service_points(id),
    agency_code          TEXT NOT NULL REFERENCES agencies(code),
    language             TEXT NOT NULL,
    interpreter_language TEXT,
    status               TEXT NOT NULL,
    expert_id            TEXT,
    room_id              TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    -- Arrival order at millisecond resolution: the queue is served by it.
    enqueued_ms          BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX queue_waiting ON queue_requests (status, agency_code, enqueued_ms);

CREATE TABLE outbox (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    appointment_id TEXT NOT NULL REFERENCES appointments(id),
    channel        TEXT NOT NULL,
    recipient      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    ics            TEXT,
    due_at         BIGINT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at        BIGINT,
    cancelled      INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

-- Completed service sessions: the transactions counted for reimbursement.
CREATE TABLE sessions (
    room_id          TEXT PRIMARY KEY,
    appointment_id   TEXT,
    service_point_id TEXT NOT NULL REFERENCES service_points(id),
    agency_code      TEXT NOT NULL REFERENCES agencies(code),
    language         TEXT NOT NULL,
    interpreter_used INTEGER NOT NULL,
    started_at       BIGINT NOT NULL,
    ended_at         BIGINT NOT NULL,
    outcome          TEXT NOT NULL,
    month            TEXT NOT NULL
);
CREATE INDEX sessions_by_month ON sessions (month);

-- Anonymous feedback: one per completed session, no person attached.
CREATE TABLE feedback (
    room_id    TEXT PRIMARY KEY REFERENCES sessions(room_id),
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment    TEXT,
    created_at BIGINT NOT NULL
);

-- Reimbursement agreement per service point and agency, in euro cents.
CREATE TABLE agreements (
    service_point_id       TEXT NOT NULL REFERENCES service_points(id),
    agency_code            TEXT NOT NULL REFERENCES agencies(code),
    base_share_cents       BIGINT NOT NULL,
    per_transaction_cents  BIGINT NOT NULL,
    PRIMARY KEY (service_point_id, agency_code)
);

-- Append-only: the triggers below refuse any update or delete.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT NOT NULL,
    actor_role TEXT NOT NULL,
    actor_org  TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT ''
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
