-- Where the next copy of the app's interventions starts (NULL: from the beginning): the newest version copied,
-- minus the overlap that catches rows committed late (the app's updated_at is its transaction's start).
SELECT max(app_updated_at) - %(overlap)s FROM symphonics.app_interventions_copy
