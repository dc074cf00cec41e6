"""The orders service: orders and their lines (PostgreSQL), with replicas of the user's
name and email and of product prices, kept current by users' and catalog's events."""
