"""The HTTP side: an aiohttp application, its middleware, handlers and lifecycle.

Handlers parse and validate on the event loop, hand numpy arrays to the model worker, and
encode the answer. The middleware gives every error TF Serving's shape and records metrics;
a response signal names the model on every response. Starting and stopping: lifecycle.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
from aiohttp import web

from inference import segment as seg
from inference import tfserving
from inference.batching import FAILED, LOADING, READY, STOPPED, WARMING, ModelWorker
from inference.config import Settings
from inference.errors import ApiError, bad_request, not_found, unavailable
from inference.metrics import CONTENT_TYPE, ServerMetrics

log = logging.getLogger("inference.server")

JSON = "application/json"
ENDPOINT = web.RequestKey("endpoint", str)  # the metrics label, refined by handlers
REASON = web.RequestKey("reason", str)  # why a non-raising handler answered an error
_STATUS_STATE = {
    LOADING: "LOADING",
    WARMING: "LOADING",
    READY: "AVAILABLE",
    FAILED: "END",
    STOPPED: "END",
}
_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class InferenceServer:
    def __init__(self, settings: Settings, *, load=None) -> None:
        self.settings = settings
        self.metrics = ServerMetrics(
            model_name=settings.model_name,
            model_version=settings.model_version,
            max_batch_size=settings.max_batch_size,
        )
        self.draining = False
        self.in_flight = 0
        self._idle: asyncio.Event | None = None
        self.segment_spec: seg.SegmentSpec | None = None
        self.segment_unsupported = "the model is not loaded yet"
        self._load_fn = load
        self._image_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="inference-image")
        self._state_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.worker = ModelWorker(
            settings=settings, metrics=self.metrics, load=self._load, on_state=self._state_changed
        )
        self.app = self._build_app()

    # -- model lifecycle ----------------------------------------------------------------

    def _load(self):
        """Runs on the model thread: import TensorFlow, load the model, describe it."""
        if self._load_fn is not None:
            loaded = self._load_fn()
        else:
            from inference import model as model_module

            model_module.configure_threads(
                intra_op=self.settings.intra_op_threads, inter_op=self.settings.inter_op_threads
            )
            loaded = model_module.load_model(self.settings.model_uri)
            log.info("loaded %s in %.2fs", model_module.describe(loaded), loaded.load_seconds)
        spec = seg.segment_spec(loaded.default, self.settings.class_names)
        if isinstance(spec, str):
            self.segment_unsupported = spec
            log.warning("/v1/segment is unavailable for this model: %s", spec)
        else:
            self.segment_spec = spec
        return loaded

    def _state_changed(self, state: str) -> None:
        log.info("model state: %s", state)
        for loop, event in self._state_waiters:
            loop.call_soon_threadsafe(event.set)

    def state_event(self) -> asyncio.Event:
        """An event set (on the calling loop) whenever the model state changes."""
        event = asyncio.Event()
        self._state_waiters.append((asyncio.get_running_loop(), event))
        return event

    async def wait_idle(self) -> None:
        """Return once no request is being handled (on the server's own loop)."""
        while self.in_flight:
            self._idle = asyncio.Event()
            await self._idle.wait()

    @property
    def ready(self) -> bool:
        return self.worker.state == READY and not self.draining

    # -- application ----------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._observe], client_max_size=self.settings.max_body_bytes
        )
        app.router.add_get("/healthz", self.healthz, name="healthz", allow_head=True)
        app.router.add_get("/readyz", self.readyz, name="readyz", allow_head=True)
        app.router.add_get("/metrics", self.metrics_page, name="metrics")
        app.router.add_post("/v1/segment", self.segment, name="segment")
        app.router.add_route("*", "/v1/models{tail:.*}", self.models, name="models")
        app.on_response_prepare.append(self._name_the_model)
        app.on_cleanup.append(self._close_pool)
        return app

    async def _name_the_model(self, request: web.Request, response: web.StreamResponse) -> None:
        # A signal rather than the middleware, so responses aiohttp writes itself carry it too.
        response.headers["X-Model-Name"] = self.settings.model_name
        response.headers["X-Model-Version"] = self.settings.model_version

    async def _close_pool(self, _app) -> None:
        self._image_pool.shutdown(wait=True)

    @web.middleware
    async def _observe(self, request: web.Request, handler) -> web.StreamResponse:
        started = time.perf_counter()
        route = request.match_info.route.name
        request[ENDPOINT] = route or "unmatched"
        model = self.metrics.model
        self.metrics.in_flight.labels(**model).inc()
        self.in_flight += 1
        reason = ""
        try:
            response = await handler(request)
        except ApiError as exc:
            response, reason = _error(exc.status, exc.message), exc.reason
        except web.HTTPException as exc:
            reason = _HTTP_REASONS.get(exc.status, "http_error")
            response = _error(exc.status, _http_message(request, exc, self.settings))
            if exc.status == 405:
                response.headers["Allow"] = exc.headers.get("Allow", "")
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response, reason = _error(500, "internal server error (see the server log)"), "internal"
        finally:
            self.metrics.in_flight.labels(**model).dec()
            self.in_flight -= 1
            if self.in_flight == 0 and self._idle is not None:
                self._idle.set()
        if self.draining:
            # Move keep-alive clients off a server that is going away.
            response.force_close()
        endpoint = request[ENDPOINT]
        code = str(response.status)
        self.metrics.requests.labels(endpoint=endpoint, code=code, **model).inc()
        if response.status >= 400:
            reason = reason or request.get(REASON, "error")
            self.metrics.errors.labels(endpoint=endpoint, code=code, reason=reason, **model).inc()
        self.metrics.latency.labels(endpoint=endpoint, **model).observe(
            time.perf_counter() - started
        )
        return response

    # -- probes and metrics ---------------------------------------------------------------

    async def healthz(self, request: web.Request) -> web.Response:
        if self.worker.state == FAILED:
            request[REASON] = "model_failed"
            return _json({"status": "failed", "reason": self.worker.failure}, status=500)
        return _json({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        if self.ready:
            return _json({"status": "ready"})
        status = "draining" if self.draining else self.worker.state
        request[REASON] = "not_ready"
        detail = {"status": status}
        if self.worker.failure:
            detail["reason"] = self.worker.failure
        return _json(detail, status=503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    # -- TF Serving API -------------------------------------------------------------------

    async def models(self, request: web.Request) -> web.Response:
        path = tfserving.parse_path(request.path)
        request[ENDPOINT] = path.endpoint
        wanted = "POST" if path.verb else "GET"
        if request.method != wanted and not (wanted == "GET" and request.method == "HEAD"):
            raise ApiError(
                405,
                f"Malformed request: {request.method} {request.path} (use {wanted})",
                reason="method_not_allowed",
            )
        self._check_servable(path)
        if path.verb == "predict":
            return await self._predict(request)
        if path.verb:
            raise ApiError(
                501,
                f":{path.verb} is not supported by this server; use :predict",
                reason="unimplemented",
            )
        if path.metadata:
            model = self.worker.model
            if model is None or self.worker.state not in (READY, WARMING):
                raise unavailable(f"model is not ready: {self.worker.state}", reason="not_ready")
            body = tfserving.metadata_body(
                name=self.settings.model_name,
                version=self.settings.model_version,
                signature_defs=model.signature_defs,
            )
            return _json(body)
        state = self.worker.state
        error_code, message = ("UNKNOWN", self.worker.failure) if state == FAILED else ("OK", "")
        body = tfserving.status_body(
            version=self.settings.model_version,
            state=_STATUS_STATE[state],
            error_code=error_code,
            message=message,
        )
        return _json(body)

    def _check_servable(self, path: tfserving.ModelPath) -> None:
        if (
            path.name != self.settings.model_name
            or (path.version is not None and path.version != self.settings.model_version)
            or path.label is not None
        ):
            raise not_found(
                "Servable not found for request: " + tfserving.servable_description(path)
            )

    async def _predict(self, request: web.Request) -> web.Response:
        ticket = self.worker.announce()
        try:
            self._require_ready()
            # The body is decoded inside one call so the general path's JSON (tens of thousands
            # of Python lists per image) is freed before waiting for the model.
            parsed = tfserving.parse_predict_body(
                await self._read_body(request), self.worker.model.signatures
            )
            outputs = await self.worker.run(parsed.signature, parsed.inputs, ticket=ticket)
            payload = tfserving.predict_body(outputs, columnar=parsed.columnar)
        finally:
            ticket.withdraw()
        return web.Response(body=payload, content_type=JSON)

    def _require_ready(self) -> None:
        if self.worker.state != READY:
            raise unavailable(f"model is not ready: {self.worker.state}", reason="not_ready")

    async def _read_body(self, request: web.Request) -> bytes:
        self._check_length(request)
        return await request.read()

    def _check_length(self, request: web.Request) -> None:
        length = request.content_length
        if length is not None and length > self.settings.max_body_bytes:
            raise ApiError(
                413,
                f"request body is {length} bytes, over the MAX_BODY_BYTES limit of "
                f"{self.settings.max_body_bytes}",
                reason="too_large",
            )

    # -- segmentation ---------------------------------------------------------------------

    async def segment(self, request: web.Request) -> web.Response:
        ticket = self.worker.announce()
        try:
            self._require_ready()
            spec = self.segment_spec
            if spec is None:
                raise ApiError(
                    501,
                    f"this model cannot segment images: {self.segment_unsupported}",
                    reason="unimplemented",
                )
            as_json = _wants_json(request)
            data = await self._read_image(request)
            loop = asyncio.get_running_loop()
            image, batch = await loop.run_in_executor(self._image_pool, self._prepare, data, spec)
            outputs = await self.worker.run(
                "serving_default", {spec.input_key: batch}, ticket=ticket
            )
        finally:
            ticket.withdraw()
        scores = outputs[spec.output_key][0]
        mask = await loop.run_in_executor(
            self._image_pool, seg.mask_from_scores, scores, image.size
        )
        if as_json:
            return _json(
                {
                    "model_name": self.settings.model_name,
                    "model_version": self.settings.model_version,
                    "width": image.width,
                    "height": image.height,
                    "classes": list(spec.class_names),
                    "class_fractions": seg.class_fractions(mask, spec),
                }
            )
        png = await loop.run_in_executor(self._image_pool, seg.mask_png, mask)
        return web.Response(body=png, content_type="image/png")

    def _prepare(self, data: bytes, spec: seg.SegmentSpec):
        image = seg.decode(data, max_pixels=self.settings.max_image_pixels)
        return image, seg.to_model_input(image, spec)

    async def _read_image(self, request: web.Request) -> bytes:
        self._check_length(request)
        content_type = request.content_type
        if content_type == "multipart/form-data":
            form = await request.post()
            files = [(name, value) for name, value in form.items() if hasattr(value, "file")]
            if not files:
                raise bad_request(
                    "the multipart body has no file part: send the image in a field named 'image'",
                    reason="empty_body",
                )
            chosen = dict(files).get("image") or dict(files).get("file") or files[0][1]
            return chosen.file.read()
        data = await request.read()
        if data and seg.sniff_format(data) is None and _is_textual(content_type):
            raise ApiError(
                415,
                f"Content-Type {content_type} is not an image: send PNG or JPEG bytes "
                "(image/png, image/jpeg) or multipart/form-data with an 'image' file",
                reason="unsupported_media_type",
            )
        return data


def _is_textual(content_type: str) -> bool:
    return content_type in (JSON, "application/x-www-form-urlencoded") or content_type.startswith(
        "text/"
    )


def _wants_json(request: web.Request) -> bool:
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("json", "png"):
            raise bad_request(f"format must be 'json' or 'png', got {fmt!r}", reason="bad_request")
        return fmt == "json"
    accept = request.headers.get("Accept", "")
    json_at, png_at = accept.find(JSON), accept.find("image/png")
    return json_at >= 0 and (png_at < 0 or json_at < png_at)


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON)


def _error(status: int, message: str) -> web.Response:
    return web.Response(body=tfserving.error_body(message), status=status, content_type=JSON)


def _http_message(request: web.Request, exc: web.HTTPException, settings: Settings) -> str:
    if exc.status == 404:
        return f"no such endpoint: {request.method} {request.path}"
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        return f"method {request.method} is not allowed on {request.path} (allowed: {allowed})"
    if exc.status == 413:
        return f"request body is over the MAX_BODY_BYTES limit of {settings.max_body_bytes}"
    return exc.text or exc.reason
