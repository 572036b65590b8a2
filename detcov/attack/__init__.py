"""The ATT&CK knowledge base: STIX bundle → normalised, indexed, cached (see :func:`load_attack`).

The names are imported on first use (:mod:`detcov.lazy`): reading :class:`IdStatus` does not load the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detcov.lazy import lazy_exports

if TYPE_CHECKING:
    from detcov.attack.ids import IdResolution as IdResolution
    from detcov.attack.ids import IdStatus as IdStatus
    from detcov.attack.ids import find_technique_ids as find_technique_ids
    from detcov.attack.ids import parse_technique_id as parse_technique_id
    from detcov.attack.kb import AttackKB as AttackKB
    from detcov.attack.model import DetectionModel as DetectionModel
    from detcov.attack.model import Provenance as Provenance
    from detcov.attack.sources import load_attack as load_attack
    from detcov.attack.sources import load_attack_data as load_attack_data

__getattr__, __all__ = lazy_exports(__name__, {
    "detcov.attack.ids": ("IdResolution", "IdStatus", "find_technique_ids", "parse_technique_id"),
    "detcov.attack.kb": ("AttackKB",),
    "detcov.attack.model": ("DetectionModel", "Provenance"),
    "detcov.attack.sources": ("load_attack", "load_attack_data"),
})
