-- The staging table dropped once its page is upserted: ON COMMIT DROP waits for the commit, and a dry run's pages
-- are savepoints in one transaction rolled back at its end (the next page creates the table again).
DROP TABLE publish_extracted
