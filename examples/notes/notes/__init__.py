"""The notes service: users' notes (user_id, content, created_at), in notes_db.

``user_id`` names a user of the auth service by value; there is no foreign key
across services, since each service owns its own database.
"""
