"""A system as processes: one per service (``tidings run``), all of them (``tidings up``).

::

    async with Supervisor(specs) as supervisor:   # stops every child on exit
        await supervisor.start()
        await supervisor.wait_ready()
        await supervisor.kill("payments")         # SIGKILL, for fault tests
        await supervisor.start(["payments"])
        await supervisor.supervise()              # restart what exits, until cancelled
"""

from tidings.processes.serving import (
    SERVE_EXTRA,
    ServeHook,
    ServeRequest,
    run_until_signalled,
    serve_asgi,
    serve_hook,
    service_urls,
)
from tidings.processes.supervisor import ProcessFailed, ProcessSpec, RestartPolicy, Supervisor

__all__ = [
    "SERVE_EXTRA",
    "ProcessFailed",
    "ProcessSpec",
    "RestartPolicy",
    "ServeHook",
    "ServeRequest",
    "Supervisor",
    "run_until_signalled",
    "serve_asgi",
    "serve_hook",
    "service_urls",
]
