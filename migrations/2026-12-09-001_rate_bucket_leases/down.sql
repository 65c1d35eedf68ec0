ALTER TABLE rate_buckets DROP COLUMN taken;
DROP FUNCTION rate_bucket_lease(float8, float8);
DROP FUNCTION rate_bucket_level(float8, timestamptz, timestamptz, float8, float8);
