"""The payments service: payments and an append-only ledger (MariaDB). Refunds compensate."""
