"""Automation: workflow triggers, the outbox relay, actions, rq jobs, schedules, pools, approvals.

Sits above the record service (``engine.records``) and the runtime (``engine.runtime``):
every action writes through the record service in a unit of work whose cause is the
workflow run. Only this package (and the runtime's configuration of it) imports rq.
Empty until the workflow automation lands; nothing runs at import time.
"""
