-- The queue of record is the signal service's hub (journalled in JetStream
-- in a cluster); the booking service's own queue, never used by the apps,
-- goes. What the queue did is kept here, from the hub's records.
DROP TABLE queue_requests;

-- Every record from the signal service is stored once: its id (the same on
-- every delivery) is written in the same transaction as its effect.
CREATE TABLE processed_records (
    id           TEXT PRIMARY KEY,
    happened_at  BIGINT NOT NULL,
    processed_at BIGINT NOT NULL
);

-- Walk-in requests that left the on-demand queue: served by an expert, or
-- abandoned (the session ended first). For the queue statistics.
CREATE TABLE queue_waits (
    record_id        TEXT PRIMARY KEY,
    room_id          TEXT NOT NULL,
    service_point_id TEXT NOT NULL REFERENCES service_points(id),
    agency_code      TEXT NOT NULL REFERENCES agencies(code),
    language         TEXT NOT NULL,
    left_at          BIGINT NOT NULL,
    waited_ms        BIGINT NOT NULL,
    served           INTEGER NOT NULL,
    month            TEXT NOT NULL
);
CREATE INDEX queue_waits_by_month ON queue_waits (month);
