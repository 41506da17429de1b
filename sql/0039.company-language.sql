-- depends: 0038.metric-totals
-- The language of the standard prompts a company's callers hear (the voicemail
-- greeting, "goodbye", a queue's place): Russian, Ukrainian or English, as the
-- seeds' users speak. A company's own prompts keep their own language.
ALTER TABLE companies ADD COLUMN language TEXT NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'uk', 'en'));
