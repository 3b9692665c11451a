"""Always-on profile of a run or map: per node, per phase, projection, exports."""

from hotpipe.profile.view import NodeProfile, PhaseProfile, Profile, Projection, SlowItem

__all__ = ["NodeProfile", "PhaseProfile", "Profile", "Projection", "SlowItem"]
