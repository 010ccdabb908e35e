"""dispatch_nlp: read Chinese 12345 hotline work orders and decide where they go.

    from dispatch_nlp import Dispatcher
    decision = Dispatcher.load().dispatch("市民反映：朝阳区望京街道某小区连续三天停水")
    print(decision.to_json(indent=2))
"""

from dispatch_nlp.dispatcher import Dispatcher
from dispatch_nlp.errors import CatalogError, DispatchNLPError, InputError, ModelError
from dispatch_nlp.types import SCHEMA_VERSION, DispatchDecision, WorkOrder

__version__ = "0.1.0"

__all__ = [
    "Dispatcher",
    "DispatchDecision",
    "WorkOrder",
    "SCHEMA_VERSION",
    "DispatchNLPError",
    "InputError",
    "CatalogError",
    "ModelError",
    "__version__",
]
