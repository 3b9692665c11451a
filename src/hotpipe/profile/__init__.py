"""Always-on profile of a run or map: calls and wall time per node, framework time apart."""

from hotpipe.profile.collector import NodeProfile, Profile

__all__ = ["NodeProfile", "Profile"]
