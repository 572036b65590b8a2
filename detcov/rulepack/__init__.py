"""detcov.rulepack: candidate Sigma rules for the gaps, converted into the institution's own SIEM language.

cands = select_candidates(kb, gaps, telemetry, deployed_rules, sigma_rules, top=30)  # filtered, ranked, explained
conv = convert(cands, "splunk", telemetry)      # pySigma backends; failures keep the backend's reason
files = write_pack(conv, "pack/", "splunk", kb)  # one file per rule + index.csv / index.md
gain = what_if(scan, conv)                       # detcov.rulepack.whatif: the scan re-scored with the pack

The names are imported on first use (:mod:`detcov.lazy`), so ``detcov suggest --help`` reads the targets alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from detcov.lazy import lazy_exports

# ``convert`` is also a submodule's name: imported here, so the function (not the module) is the package's attribute
from detcov.rulepack.convert import convert as convert

if TYPE_CHECKING:
    from detcov.rulepack.model import (
        GAP_CLASSES as GAP_CLASSES,
    )
    from detcov.rulepack.model import (
        Candidate as Candidate,
    )
    from detcov.rulepack.model import (
        Converted as Converted,
    )
    from detcov.rulepack.model import (
        GapLike as GapLike,
    )
    from detcov.rulepack.model import (
        NewerId as NewerId,
    )
    from detcov.rulepack.model import (
        SigmaExtras as SigmaExtras,
    )
    from detcov.rulepack.model import (
        Target as Target,
    )
    from detcov.rulepack.pack import (
        write_pack as write_pack,
    )
    from detcov.rulepack.select import (
        select_candidates as select_candidates,
    )

__getattr__, __all__ = lazy_exports(__name__, {
    "detcov.rulepack.model": ("GAP_CLASSES", "Candidate", "Converted", "GapLike", "NewerId", "SigmaExtras", "Target"),
    "detcov.rulepack.pack": ("write_pack",),
    "detcov.rulepack.select": ("select_candidates",),
})
