"""Financial APT profiles: who attacks us, and which techniques matter most.

    from detcov.apt_profiles import load_profile, WeightOptions
    profile = load_profile("financial-sector", kb)   # shipped name, YAML, STIX bundle or DeTT&CT file
    weights = profile.weights(kb, WeightOptions(rollup=True))  # id -> TechniqueWeight, highest first
"""

from detcov.apt_profiles.compare import (
    Comparison,
    compare_profiles,
    compare_weights,
    jaccard,
    similarity_clusters,
    similarity_matrix,
    weighted_jaccard,
)
from detcov.apt_profiles.loader import (
    load_profile,
    load_profile_or_group,
    shipped_profile_path,
    shipped_profiles,
)
from detcov.apt_profiles.model import ForcedTechnique, GroupKind, GroupUse, Profile, ProfileGroup
from detcov.apt_profiles.weights import (
    DEFAULT_PROVENANCE_WEIGHTS,
    Contribution,
    TacticShare,
    TechniqueWeight,
    WeightOptions,
    compute_weights,
    tactic_distribution,
)
from detcov.defaults import DEFAULT_PROFILE

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_PROVENANCE_WEIGHTS",
    "Comparison",
    "Contribution",
    "ForcedTechnique",
    "GroupKind",
    "GroupUse",
    "Profile",
    "ProfileGroup",
    "TacticShare",
    "TechniqueWeight",
    "WeightOptions",
    "compare_profiles",
    "compare_weights",
    "compute_weights",
    "jaccard",
    "load_profile",
    "load_profile_or_group",
    "shipped_profile_path",
    "shipped_profiles",
    "similarity_clusters",
    "similarity_matrix",
    "tactic_distribution",
    "weighted_jaccard",
]
