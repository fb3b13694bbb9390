-- The trivial query of a database's health check.
SHOW server_version
