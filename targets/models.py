"""Targets and deliveries (see the Databricks and Valohai adapters)."""
