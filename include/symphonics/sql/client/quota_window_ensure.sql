-- A client id's quota row, created empty the first time it is used.
INSERT INTO symphonics.quota_windows (client_id) VALUES (%(client_id)s)
    ON CONFLICT ON CONSTRAINT quota_windows_pkey DO NOTHING
