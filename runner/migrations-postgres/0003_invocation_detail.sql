-- An invocation record's timing split, outbound calls, answer and recorded
-- input, as one JSON document (registry::InvocationDetail).
ALTER TABLE invocations ADD COLUMN detail TEXT;
