-- The tenant secrets each version's manifest grants (`[capabilities] secrets`), as a JSON list of names.
ALTER TABLE versions ADD COLUMN secrets TEXT NOT NULL DEFAULT '[]';
