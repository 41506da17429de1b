# Kamailio's KEMI module, importable only inside Kamailio (app_python3). Its
# functions are exported by each loaded module at run time (KSR.tm.t_relay,
# KSR.pv.get, ...): typed here as "anything", which is what the script can know.
from typing import Any

def __getattr__(name: str) -> Any: ...
