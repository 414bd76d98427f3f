"""Dagster definitions, one folder per domain (assets, partitions, checks, schedules, sensors)."""

import warnings

import dagster as dg

# Partitioned asset checks are a preview feature of this Dagster release; the pin keeps it stable.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
