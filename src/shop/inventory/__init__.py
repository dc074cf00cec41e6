"""The inventory service, event-sourced: each product's stock is a stream of
InventoryAdjusted, InventoryReserved and InventoryReleased events; each order's
reservation is a stream too, which makes reserving and releasing idempotent."""
