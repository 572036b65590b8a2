"""The ATT&CK knowledge base: STIX bundle → normalised, indexed, cached (see :func:`load_attack`)."""

from detcov.attack.ids import IdResolution, IdStatus, find_technique_ids, parse_technique_id
from detcov.attack.kb import AttackKB
from detcov.attack.model import DetectionModel, Provenance
from detcov.attack.sources import load_attack, load_attack_data

__all__ = [
    "AttackKB",
    "DetectionModel",
    "IdResolution",
    "IdStatus",
    "Provenance",
    "find_technique_ids",
    "load_attack",
    "load_attack_data",
    "parse_technique_id",
]
