"""``dispatch-nlp serve`` starts the service with ``ServiceSettings``' own defaults (the flags repeat them
so that building the CLI does not import FastAPI: this keeps the two from drifting apart)."""

import argparse
import dataclasses

from dispatch_nlp.cli import service as cli_service
from dispatch_nlp.service.settings import ServiceSettings

# serve flag (argparse dest) -> ServiceSettings field
SHARED = {"max_body_bytes": "max_body_bytes", "max_batch": "max_batch", "write_rate": "write_rate_per_s",
          "write_burst": "write_burst", "batch_max": "batch_max", "batch_delay_ms": "batch_delay_ms",
          "queue_max": "queue_max", "request_timeout_s": "request_timeout_s", "max_in_flight": "max_in_flight",
          "workers": "workers"}


def test_serve_flags_default_to_the_service_settings_defaults():
    parser = argparse.ArgumentParser()
    cli_service.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve"])
    defaults = {f.name: f.default for f in dataclasses.fields(ServiceSettings)}
    differ = {dest: (getattr(args, dest), defaults[field]) for dest, field in SHARED.items()
              if getattr(args, dest) != defaults[field]}
    assert not differ, f"serve flag defaults differ from ServiceSettings: {differ}"
