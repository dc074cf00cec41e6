"""Faults on purpose, for testing a system built on tidings: the public harness.

What a fault test needs, each against the real thing (processes, sockets, servers):

=========================  ==============================================================
kill a service             :func:`kill_service` (SIGKILL behind the supervisor's back, as a
                           crash), :func:`wait_restarted` (until it runs again and is ready)
cut the broker             :class:`BrokerProxy`: a loopback TCP proxy the services connect
                           through; :meth:`~BrokerProxy.outage` refuses and drops
                           connections for N seconds, then heals. The broker keeps running.
hold a transaction         :func:`open_transaction`, :func:`hold_transaction`
bad deliveries             :class:`FaultyBroker` + :class:`DeliveryFaults`: duplicate,
                           delay, reorder, hold until late (a reply after its deadline)
check the outcome          :class:`History` (each committed id applied exactly once),
                           :class:`AggregateHistory` (per aggregate: lost, duplicated,
                           out of order)
=========================  ==============================================================

``docs/testing.md`` shows how to point these at your own services.
"""

from tidings.processes import ProcessSpec, RestartPolicy, Supervisor
from tidings.testing.faults_database import hold_transaction, open_transaction
from tidings.testing.faults_delivery import DeliveryFaults, FaultyBroker, every
from tidings.testing.faults_history import AggregateFindings, AggregateHistory, AggregateReport
from tidings.testing.faults_processes import kill_service, sigkill, wait_restarted
from tidings.testing.faults_proxy import BrokerProxy
from tidings.testing.history import History, HistoryReport, applied_counts

__all__ = [
    "AggregateFindings",
    "AggregateHistory",
    "AggregateReport",
    "BrokerProxy",
    "DeliveryFaults",
    "FaultyBroker",
    "History",
    "HistoryReport",
    "ProcessSpec",
    "RestartPolicy",
    "Supervisor",
    "applied_counts",
    "every",
    "hold_transaction",
    "kill_service",
    "open_transaction",
    "sigkill",
    "wait_restarted",
]
