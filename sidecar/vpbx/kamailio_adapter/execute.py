"""Turn a plan step into Kamailio branches."""

from __future__ import annotations

from ..routing import Step

USRLOC_TABLE = "location"


def load_step_branches(ksr, step: Step) -> int:
    """Fill the R-URI and the destination set with the step's reachable contacts.

    The first reachable target takes the R-URI (lookup_uri also sets $du for a
    NATed phone); later ones are appended as branches, so t_relay forks to all of
    them at once. Returns how many targets were reachable.
    """
    reachable = 0
    for target in step.targets:
        if target.via_location:
            lookup = ksr.registrar.lookup_to_dset if reachable else ksr.registrar.lookup_uri
            found = lookup(USRLOC_TABLE, target.uri) > 0
        elif reachable:
            found = ksr.corex.append_branch_uri(target.uri) > 0
        else:
            found = ksr.seturi(target.uri) > 0
        if found:
            reachable += 1
        else:
            ksr.info(f"vpbx: {target.label} ({target.uri}) is not reachable\n")
    return reachable
