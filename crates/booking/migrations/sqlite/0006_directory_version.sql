-- The directory's version. Every change to what a slot search reads —
-- services, service points and their opening hours and exceptions, public
-- holidays, kiosks, experts, interpreters and working hours — adds one to it
-- in the same transaction, by trigger, whoever makes the change (any booking
-- process, `silta migrate`, a hand in psql). A booking process keeps the
-- directory in memory and reads this one row before using its copy: the same
-- number means the copy is current.
CREATE TABLE directory_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO directory_version (id, version) VALUES (1, 1);

CREATE TRIGGER services_insert_changes_directory AFTER INSERT ON services
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER services_update_changes_directory AFTER UPDATE ON services
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER services_delete_changes_directory AFTER DELETE ON services
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER service_points_insert_changes_directory AFTER INSERT ON service_points
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER service_points_update_changes_directory AFTER UPDATE ON service_points
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER service_points_delete_changes_directory AFTER DELETE ON service_points
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opening_hours_insert_changes_directory AFTER INSERT ON opening_hours
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opening_hours_update_changes_directory AFTER UPDATE ON opening_hours
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opening_hours_delete_changes_directory AFTER DELETE ON opening_hours
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opening_exceptions_insert_changes_directory AFTER INSERT ON opening_exceptions
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opening_exceptions_update_changes_directory AFTER UPDATE ON opening_exceptions
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opening_exceptions_delete_changes_directory AFTER DELETE ON opening_exceptions
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER public_holidays_insert_changes_directory AFTER INSERT ON public_holidays
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER public_holidays_update_changes_directory AFTER UPDATE ON public_holidays
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER public_holidays_delete_changes_directory AFTER DELETE ON public_holidays
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER kiosks_insert_changes_directory AFTER INSERT ON kiosks
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER kiosks_update_changes_directory AFTER UPDATE ON kiosks
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER kiosks_delete_changes_directory AFTER DELETE ON kiosks
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER experts_insert_changes_directory AFTER INSERT ON experts
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER experts_update_changes_directory AFTER UPDATE ON experts
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER experts_delete_changes_directory AFTER DELETE ON experts
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER interpreters_insert_changes_directory AFTER INSERT ON interpreters
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER interpreters_update_changes_directory AFTER UPDATE ON interpreters
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER interpreters_delete_changes_directory AFTER DELETE ON interpreters
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER working_hours_insert_changes_directory AFTER INSERT ON working_hours
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER working_hours_update_changes_directory AFTER UPDATE ON working_hours
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER working_hours_delete_changes_directory AFTER DELETE ON working_hours
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
END;
