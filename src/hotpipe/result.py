"""``Result``: a dict of output name -> value, with the profile and the item errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe.execute import ItemError
    from hotpipe.profile import Profile

__all__ = ["Result"]


class Result(dict[str, Any]):
    """The outputs of ``run`` (values) or ``map`` (lists aligned with the items).

    ``profile`` tells where the time went; ``errors`` lists the failed items of a map run
    with ``on_error="collect"`` as ``ItemError(index, node, exception)`` (empty otherwise).
    """

    __slots__ = ("errors", "profile")

    def __init__(
        self, values: dict[str, Any], profile: Profile, errors: list[ItemError] | None = None
    ) -> None:
        super().__init__(values)
        self.profile = profile
        self.errors: list[ItemError] = errors or []

    def __repr__(self) -> str:
        extra = f", errors={len(self.errors)}" if self.errors else ""
        return f"Result({dict.__repr__(self)}{extra})"
