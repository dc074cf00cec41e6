"""The users service: who the customers are (PostgreSQL). Replicated to orders by events."""
