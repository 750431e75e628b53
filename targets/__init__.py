"""Targets: Databricks workspaces and Valohai organizations, deliveries to them, and their health."""
