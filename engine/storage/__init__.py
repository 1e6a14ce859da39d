"""Storage: Core tables from the compiled model, connections, plan/apply migrations.

Builds tables and talks to the database; never imports Flask.
"""
