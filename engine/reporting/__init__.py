"""Reporting: report definitions compiled to one SQL statement, measures, the chart registry.

Sits above the record service's read side: reports use the same structured filters,
record scope and hidden fields as lists, and aggregate in the database, never in
Python. Empty until reports land; nothing runs at import time.
"""
