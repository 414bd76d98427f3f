"""Dagster definitions, one folder per domain (assets, checks, schedules, sensors), and the
partitions definitions they share (`partitions.py`)."""
