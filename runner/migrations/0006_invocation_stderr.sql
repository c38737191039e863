-- The first and last 4 KiB of a failed invocation's stderr (guest-sdk/CONTRACT.md).
ALTER TABLE invocations ADD COLUMN stderr TEXT;
