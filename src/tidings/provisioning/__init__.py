"""Provisioning: a database per service, an owner and a runtime role each, their grants.

::

    report = await provision(system, Backend.POSTGRESQL, settings)   # databases, roles, env file
    await upgrade(system, service, settings)                         # migrate as owner, then grant
    await deprovision(system, Backend.POSTGRESQL, settings)          # drop them again
    await provision_layout(system, Backend.POSTGRESQL, settings)     # each on its own backend
"""

from tidings.provisioning.base import ServerAdmin, TableGrants
from tidings.provisioning.envfile import load_env_file, read_env_file, write_env_file
from tidings.provisioning.grants import apply_grants, table_grants
from tidings.provisioning.layout import layout
from tidings.provisioning.migrate import current, downgrade, owner_database, upgrade
from tidings.provisioning.names import ServiceNames, service_names
from tidings.provisioning.provision import (
    ProvisionedService,
    ProvisionReport,
    deprovision,
    deprovision_layout,
    owner_env_var,
    provision,
    provision_layout,
    remove_service_files,
)
from tidings.provisioning.servers import admin_connection, admin_url, parse_backend, server_admin
from tidings.provisioning.temporary import ServiceRoles, temporary_roles

__all__ = [
    "ProvisionReport",
    "ProvisionedService",
    "ServerAdmin",
    "ServiceNames",
    "ServiceRoles",
    "TableGrants",
    "admin_connection",
    "admin_url",
    "apply_grants",
    "current",
    "deprovision",
    "deprovision_layout",
    "downgrade",
    "layout",
    "load_env_file",
    "owner_database",
    "owner_env_var",
    "parse_backend",
    "provision",
    "provision_layout",
    "read_env_file",
    "remove_service_files",
    "server_admin",
    "service_names",
    "table_grants",
    "temporary_roles",
    "upgrade",
    "write_env_file",
]
