"""Pure call routing: (compiled number document, call, clock) -> Plan.

Nothing in this package does I/O or imports Kamailio's KSR: the KEMI adapter
and the sidecar's "explain" endpoint run the very same code.
"""

from .call import Call
from .plan import Plan, Step, build_direct_plan, build_plan
from .targets import Target

__all__ = ["Call", "Plan", "Step", "Target", "build_direct_plan", "build_plan"]
