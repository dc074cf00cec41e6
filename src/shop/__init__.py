"""The reference e-commerce system, built only on tidings' public API.

One package per service (users, catalog, inventory, orders, payments,
notifications, search, analytics), each owning its database; they share only
the message contracts in :mod:`shop.contracts` and the HTTP shell in
:mod:`shop.common`. :mod:`shop.system` declares them, :mod:`shop.runtime`
composes them, :mod:`shop.demo` runs them. Importing any of it does no I/O.
"""
