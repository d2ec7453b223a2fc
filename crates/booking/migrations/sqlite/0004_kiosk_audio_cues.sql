-- Audio cues at a kiosk (a sound when the expert joins and when the call
-- ends, for people who cannot see the screen well): off unless an admin
-- turns them on for that kiosk.
ALTER TABLE kiosks ADD COLUMN audio_cues INTEGER NOT NULL DEFAULT 0;
