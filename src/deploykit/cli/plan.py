def plan() -> None:
    """(in progress)"""
