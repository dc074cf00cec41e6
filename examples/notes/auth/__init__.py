"""The auth service: who may log in (users with an email and a password hash), in auth_db."""
