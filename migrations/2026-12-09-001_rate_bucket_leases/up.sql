-- Issue 19: a spend from the shared bucket may take a lease of several tokens at once,
-- which the instance then spends in memory (ops::Limits), so that a busy caller costs one
-- statement per lease instead of one per request. `taken` is what the last spend took
-- (0: refused); `accepted` stays as `taken > 0` for readers of the table.
ALTER TABLE rate_buckets ADD COLUMN taken integer NOT NULL DEFAULT 0;

-- A bucket's level at `at`: refilled at `per_second` since its last spend, capped at the
-- burst (time never runs backwards: a spend that waited behind a later one refills nothing).
CREATE FUNCTION rate_bucket_level(tokens float8, updated_at timestamptz, at timestamptz,
                                  burst float8, per_second float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT least(burst, tokens + greatest(0, extract(epoch FROM at - updated_at)) * per_second)::float8
$$;

-- The tokens one spend takes from a bucket at `level`: an eighth of it, at least one and at
-- most `cap`; none when not a whole token is there.
CREATE FUNCTION rate_bucket_lease(level float8, cap float8)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN level >= 1 THEN least(cap, greatest(1, floor(level / 8)))::integer ELSE 0 END
$$;
