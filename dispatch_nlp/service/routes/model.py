"""``GET /v1/model`` (model, catalog and schema versions in service, the registry, the limits) and
``POST /v1/admin/reload`` (load the configured model source again and swap it in; an admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dispatch_nlp.lifecycle.registry import Registry
from dispatch_nlp.service.auth import AUTH_RESPONSES, AdminWrite, DispatchRole
from dispatch_nlp.service.deps import HolderDep, SettingsDep
from dispatch_nlp.service.schemas import MAX_TEXT_CHARS, ErrorOut, ModelOut, ReloadOut

router = APIRouter()
admin_router = APIRouter()  # a router of its own: the reload comes after /metrics in the OpenAPI paths


@router.get("/v1/model", response_model=ModelOut, tags=["operations"], dependencies=[DispatchRole],
            responses=AUTH_RESPONSES,
            summary="Model, catalog and schema versions in service")
def model_info(holder: HolderDep, settings: SettingsDep) -> ModelOut:
    d = holder.dispatcher
    reg = None
    if settings.registry:
        r = Registry(settings.registry, create=False)
        reg = {"path": str(r.root), "current": r.current(), "versions": r.versions()}
    return ModelOut(**d.info(), registry=reg, loaded_at=holder.loaded_at,
                    limits={"max_body_bytes": settings.max_body_bytes, "max_batch": settings.max_batch,
                            "max_text_chars": MAX_TEXT_CHARS})


@admin_router.post("/v1/admin/reload", response_model=ReloadOut, tags=["operations"],
                   responses={**AUTH_RESPONSES, 409: {"model": ErrorOut}},
                   summary="Load the registry's current model (or the --model directory again) and swap it in")
def admin_reload(holder: HolderDep, principal: AdminWrite,
                 wait: bool = Query(True, description="reply after the swap"),
                 force: bool = Query(False, description="reload even if the source did not change")) -> Response:
    result = holder.reload(wait=wait, force=force)
    status = {"failed": 409, "loading": 202}.get(result["status"], 200)
    return Response(ReloadOut(**result).model_dump_json(), status_code=status, media_type="application/json")
