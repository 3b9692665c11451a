"""``Result``: a dict of output name -> value, with the profile and the item errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hotpipe.profile import Profile
    from hotpipe.profile.stats import ItemError

__all__ = ["Result"]


class Result(dict[str, Any]):
    """The outputs of ``run`` (values) or ``map`` (lists aligned with the items).

    ``profile`` tells where the time went; ``errors`` lists the failed items of a map run
    with ``on_error="collect"`` as ``ItemError(index, node, exception)`` (empty otherwise).
    """

    __slots__ = ("_profile", "_profile_args", "errors")

    def __init__(
        self,
        values: dict[str, Any],
        profile: Profile | None = None,
        errors: list[ItemError] | None = None,
        profile_args: tuple[Any, ...] | None = None,
    ) -> None:
        super().__init__(values)
        self._profile = profile
        self._profile_args = profile_args
        self.errors: list[ItemError] = errors or []

    @property
    def profile(self) -> Profile:
        """Where the time went (built on first access from the engine's counters)."""
        if self._profile is None:
            from hotpipe.profile import Profile

            self._profile = Profile(*self._profile_args)  # type: ignore[misc]
        return self._profile

    def _repr_html_(self) -> str:
        """In Jupyter: each output's type, length and a preview, then the profile's cards."""
        from hotpipe._notebook import result_html

        return result_html(self)
    def advise(self, measure: bool = False, inputs: dict[str, Any] | None = None,
               batches: dict[str, Any] | None = None) -> Any:
        """What to change, read off this call's profile and values: a list of
        :class:`~hotpipe.advise.Finding`, largest expected gain first (docs/advisor.md).

        ``inputs`` (the call's inputs) lets the rules that look at input values see them;
        ``measure=True`` allows quick experiments, e.g. timing a batch implementation offered
        in ``batches`` (node name -> function taking lists) against the items one by one.
        """
        from hotpipe.advise import advise

        values = {**(inputs or {}), **self}
        return advise(self.profile, values, measure=measure, batches=batches)

    def __repr__(self) -> str:
        extra = f", errors={len(self.errors)}" if self.errors else ""
        return f"Result({dict.__repr__(self)}{extra})"
