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

CREATE FUNCTION directory_changed() RETURNS trigger AS $$
BEGIN
    UPDATE directory_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER services_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER service_points_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON service_points
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER opening_hours_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opening_hours
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER opening_exceptions_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opening_exceptions
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER public_holidays_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public_holidays
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER kiosks_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON kiosks
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER experts_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON experts
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER interpreters_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON interpreters
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();

CREATE TRIGGER working_hours_change_directory AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON working_hours
    FOR EACH STATEMENT EXECUTE FUNCTION directory_changed();
