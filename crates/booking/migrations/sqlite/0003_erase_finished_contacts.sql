-- Contact details are kept only as long as reminders need them: an
-- appointment that was cancelled, not attended or completed keeps none (nor
-- the request hash, which covers them), and neither do its notifications
-- already sent or withdrawn; a notice still to go keeps its copy until it
-- is delivered. Erase what earlier versions kept.
UPDATE appointments SET contact_email = NULL, contact_phone = NULL, request_hash = NULL, idempotency_key = NULL
 WHERE status IN ('cancelled', 'no_show')
    OR id IN (SELECT appointment_id FROM sessions WHERE appointment_id IS NOT NULL);
DELETE FROM outbox
 WHERE (sent_at IS NOT NULL OR cancelled = 1)
   AND appointment_id IN (SELECT id FROM appointments WHERE contact_email IS NULL AND contact_phone IS NULL);
