"""The service's routes, one module per resource: ``dispatch`` (one order, a batch), ``corrections``,
``health`` (liveness/readiness and Prometheus metrics) and ``model`` (what is in service, admin reload).

``ROUTERS`` lists them in the order ``create_app`` includes them (the order of the OpenAPI paths).
"""

from dispatch_nlp.service.routes import corrections, dispatch, health, model

ROUTERS = [dispatch.router, corrections.router, health.router, model.router, health.metrics_router,
           model.admin_router]

__all__ = ["ROUTERS"]
