"""The user service: profiles (display name, bio) of the auth service's users, in user_db."""
