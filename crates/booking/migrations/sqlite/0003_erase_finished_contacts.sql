-- Contact details are kept only as long as reminders need them: an
-- appointment that was cancelled, not attended or completed keeps none, and
-- neither do its notifications. Erase what earlier versions kept.
UPDATE appointments SET contact_email = NULL, contact_phone = NULL
 WHERE status IN ('cancelled', 'no_show')
    OR id IN (SELECT appointment_id FROM sessions WHERE appointment_id IS NOT NULL);
DELETE FROM outbox
 WHERE appointment_id IN (SELECT id FROM appointments WHERE contact_email IS NULL AND contact_phone IS NULL);
