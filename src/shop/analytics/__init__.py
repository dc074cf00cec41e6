"""The analytics service: sales facts in ClickHouse (chDB embedded, or a server through
clickhouse-connect), projected from orders' events. Its relational database holds
only the library's tables (audit log, later its inbox)."""
