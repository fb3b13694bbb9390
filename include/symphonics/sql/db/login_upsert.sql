-- The verb is CREATE or ALTER; CREATE ROLE takes no parameters, so the password comes as a quoted literal.
{verb} ROLE {login} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD {password}
