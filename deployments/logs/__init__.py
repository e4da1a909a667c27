"""Pod logs: the download API (api.py), the live websocket kind and its shared upstream
follow streams (upstream.py, store.py), who may read them (access.py) and the viewer page."""
