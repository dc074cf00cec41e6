"""What every shop service shares that is not a business contract: the HTTP shell
(errors, health, metrics), versioned deletes and the event publisher port.

Services import this package and :mod:`shop.contracts`; never each other.
"""
