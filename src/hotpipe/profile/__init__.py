"""Always-on profile of a run or map: per node, per phase, the cache, projection, exports."""

from hotpipe.profile.view import (
    CacheProfile,
    NodeProfile,
    PhaseProfile,
    Profile,
    Projection,
    SlowItem,
)

__all__ = ["CacheProfile", "NodeProfile", "PhaseProfile", "Profile", "Projection", "SlowItem"]
