"""Helpers the KEMI script uses to route calls: per-worker state and plan execution.

Nothing here imports Kamailio's KSR module: functions take the ``ksr`` object
as an argument, so this package imports (and unit-tests) outside Kamailio.
"""
