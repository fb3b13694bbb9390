-- Snapshots are immutable except to an erasure (migration 0009): for the current transaction only.
SELECT set_config('symphonics.erasure', 'on', true)
