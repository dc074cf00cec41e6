"""The shop's public message contracts: one module per publishing service.

A service may import any module here and nothing of another service's package,
so a contract is the whole of what two services know about each other.
"""
