"""The model in service is kept out of the garbage collector's full passes, and a replaced one is freed."""

import gc
import weakref

from dispatch_nlp.service.holder import ModelHolder
from dispatch_nlp.service.metrics import Metrics
from dispatch_nlp.service.settings import ServiceSettings


class Model:
    """A stand-in model with a reference cycle, as a real one has (components pointing back)."""

    model_version, catalog_version, model_dir = "m1", "2026.11", None

    def __init__(self):
        self.me = self


def test_the_model_in_service_is_frozen_and_a_replaced_one_is_freed():
    model = Model()
    holder = ModelHolder(ServiceSettings(), Metrics(), dispatcher=model)
    try:
        assert not any(o is model for o in gc.get_objects())  # frozen: a full collection skips it
        gone = weakref.ref(model)
        del model
        holder.dispatcher = Model()  # what a reload swaps in, then publishes
        holder._publish()
        assert gone() is None  # the old model's cycle was collected, not kept frozen for ever
        assert not any(o is holder.dispatcher for o in gc.get_objects())
    finally:
        gc.unfreeze()
