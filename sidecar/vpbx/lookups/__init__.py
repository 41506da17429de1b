"""Asking outside systems how to route a call: webhook numbers (R17) and the CRM (R16).

Every lookup has a deadline and fails open: whatever goes wrong (timeout,
error, invalid answer, open circuit breaker) yields a short reason instead of
an answer, and routing follows the fallback. Kamailio runs these only in its
async task workers, never in a SIP worker; the sidecar runs them for dry runs.
"""
