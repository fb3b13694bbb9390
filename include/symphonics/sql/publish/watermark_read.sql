-- The persisted high-water mark (updated_at, id) of a pipeline.
SELECT mark_updated_at, mark_id FROM symphonics.publish_watermarks WHERE pipeline = %(pipeline)s
