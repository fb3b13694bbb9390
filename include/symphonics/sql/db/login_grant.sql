-- The login has no right of its own: everything comes from its group role (made by a migration).
GRANT {role} TO {login}
