"""moto patches that make the emulated account behave as AWS does for this workflow."""


def apply_all() -> None:
    from . import local, sfn

    sfn.apply()
    if not getattr(local, "_applied", False):
        local.apply()
        local._applied = True
