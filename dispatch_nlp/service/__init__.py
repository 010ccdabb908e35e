"""The HTTP service (``dispatch-nlp serve``): FastAPI + uvicorn, installed with the ``[serve]`` extra.

    from dispatch_nlp.service import ServiceSettings, create_app
    app = create_app(ServiceSettings(model_dir=None, corrections="corrections.db"))
"""

from dispatch_nlp.service.app import ModelHolder, ServiceSettings, create_app

__all__ = ["ModelHolder", "ServiceSettings", "create_app"]
