"""Domain services: plain functions with no HTTP in them, called by views and CLI commands."""
