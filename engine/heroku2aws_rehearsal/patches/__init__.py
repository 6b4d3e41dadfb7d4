"""moto patches that make the emulated account behave as AWS does for this workflow.

Step Functions lives in its own service package (``services/stepfunctions``); ``local`` runs Lambda, ECS
and DMS locally.
"""


def apply_all() -> None:
    from ..services import stepfunctions
    from . import local

    stepfunctions.apply()
    if not getattr(local, "_applied", False):
        local.apply()
        local._applied = True
