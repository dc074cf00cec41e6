"""The published language between the notes system's services: the events one
service publishes through its outbox and others consume through their inbox.

Services import this module, never each other's packages.
"""

from __future__ import annotations

from tidings.messages import Event, MessageRegistry

registry = MessageRegistry()

#: The topic (and type name) of :class:`ProfileChanged`.
PROFILE_CHANGED = "user.ProfileChanged"


@registry.register(PROFILE_CHANGED)
class ProfileChanged(Event):
    """The user service created or changed a profile; ``version`` is the profile's
    version after the change, so a replica can refuse to move backwards."""

    user_id: str
    display_name: str
    version: int
