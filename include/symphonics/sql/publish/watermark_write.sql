-- Move a pipeline's high-water mark, only ever forward (a concurrent run with an older page cannot move it back).
INSERT INTO symphonics.publish_watermarks AS w (pipeline, mark_updated_at, mark_id, run_id, updated_at)
VALUES (%(pipeline)s, %(mark_at)s, %(mark_id)s, %(run_id)s, now())
    ON CONFLICT ON CONSTRAINT publish_watermarks_pkey DO UPDATE
   SET mark_updated_at = EXCLUDED.mark_updated_at,
       mark_id = EXCLUDED.mark_id,
       run_id = EXCLUDED.run_id,
       updated_at = now()
 WHERE (w.mark_updated_at, w.mark_id) < (EXCLUDED.mark_updated_at, EXCLUDED.mark_id)
