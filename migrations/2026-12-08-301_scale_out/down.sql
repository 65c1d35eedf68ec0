DROP TABLE background_job_runs;
DROP TABLE signing_key_fingerprint;
DROP TABLE rate_buckets;
