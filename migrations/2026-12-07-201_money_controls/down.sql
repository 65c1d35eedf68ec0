DROP TABLE ledger_verifications;
DROP TRIGGER executing_agencies_suspension ON executing_agencies;
DROP FUNCTION executing_agencies_suspension();
ALTER TABLE executing_agencies DROP CONSTRAINT executing_agencies_suspended_on_when_suspended;
ALTER TABLE executing_agencies DROP COLUMN suspended_on;
