"""The check port: a named comparison of what some services hold about each other."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable, Mapping

from tidings.consistency.drift import Drift
from tidings.storage.database import Database

CheckFunction = Callable[[Mapping[str, Database]], Awaitable[list[Drift]]]


class Check(abc.ABC):
    """A comparison across services.

    ``services`` names every database :meth:`run` reads; the caller passes at least
    those, each opened with its own service's credentials.
    """

    def __init__(self, name: str, services: Iterable[str], description: str = "") -> None:
        self.name = name
        self.services = tuple(services)
        self.description = description

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, services={self.services!r})"

    @abc.abstractmethod
    async def run(self, databases: Mapping[str, Database]) -> list[Drift]:
        """Every drift found; an empty list when the services agree."""


class FunctionCheck(Check):
    """A check whose comparison is an async function of the databases."""

    def __init__(
        self, name: str, services: Iterable[str], function: CheckFunction, description: str = ""
    ) -> None:
        super().__init__(name, services, description or (function.__doc__ or "").strip())
        self._function = function

    async def run(self, databases: Mapping[str, Database]) -> list[Drift]:
        return await self._function(databases)


def check(
    name: str, *, services: Iterable[str], description: str = ""
) -> Callable[[CheckFunction], FunctionCheck]:
    """Decorate ``async def f(databases) -> list[Drift]`` into a :class:`Check`."""

    def decorate(function: CheckFunction) -> FunctionCheck:
        return FunctionCheck(name, services, function, description)

    return decorate
