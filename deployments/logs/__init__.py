"""Pod logs: the download API (api.py), the "logs" kind of the live websocket (live.py) and
its shared upstream follow streams (upstream.py: which process follows; follower.py and
dedupe.py: the follow itself; store.py: Redis), who may read them (access.py) and the viewer
pages (views.py, static/js/logs.js). The last lines of pods nobody follows are kept when they
go by the watcher's pod hook (keep_hook.py) and a Celery task (keep.py), into the same store.

The websocket protocol (on /ws/live/, beside the built-in kinds of controlplane/live):

  -> {"subscribe": {"cluster", "kind": "logs", "namespace", "pod", "container",
                    "previous": false, "tail_lines": N | null, "timestamps": bool,
                    "cursor": N | null}}
     One container of one pod. `tail_lines`: how much of the kept backlog to send first
     (null: all of it, up to LOGS_BUFFER_LINES); `cursor`: the last cursor the page has, so a
     reconnecting page gets exactly the lines after it (and no tail); `previous`: the
     terminated instance's log, sent once (nothing follows); `timestamps` is the page's
     display choice (every line carries its timestamp either way).
  -> {"subscribe": {"cluster", "kind": "logs", "namespace", "deployment" | "job": name,
                    "containers": [names] | null, "tail_lines", "cursors": {"pod/container": N}}}
     Every pod of the workload, pods joining as they appear (from the watcher's cache);
     `containers` limits which containers are followed (init containers only when named).
  -> {"unsubscribe": {...the same...}}

  <- {"type": "logs.backlog", "stream": {"cluster", "namespace", "pod", "container"},
      "lines": [[cursor, timestamp, text], ...], "state", "seq", "ended_at", "reason",
      "restarts", "missed", "previous"?}
     First answer to a pod subscription. `state`: following, waiting, terminated, ended
     (the pod was deleted at `ended_at`: the lines are the kept ones), error (`reason`).
     `missed`: lines between the given cursor and the oldest kept one (gone for good).
  <- {"type": "logs.workload_backlog", "workload": {"kind", "name"}, "streams": [{stream...,
      "state", "seq", "ended_at", "reason"}], "lines": [[timestamp, pod, container, cursor,
      text], ...]}
     First answer to a workload subscription, and again for each pod that joins later;
     lines interleaved in time order.
  <- {"type": "logs.lines", "stream": {...}, "lines": [[cursor, timestamp, text], ...]}
     Live lines in batches (at most one message per LOGS_BATCH_SECONDS per stream).
     Cursors rise by one per line within a stream: a page ignores a line whose cursor it
     already has (the backlog and the first live batch may overlap) and resumes with its
     last cursor after a reconnect.
  <- {"type": "logs.dropped", "stream": {...}, "count": N, "from": cursor, "detail"}
     Over LOGS_MAX_LINES_PER_SECOND a stream sends no more lines that second; they are kept
     in Redis and in the download, and the page says how many it did not get.
  <- {"type": "logs.status", "stream": {...}, "state": "following" | "restarted" |
      "terminated" | "ended" | "error", "detail", "at", "ended_at"?, "restarts"?}
  <- {"type": "error", "error": "subscription.<field>: ..." | "you may not read logs ...",
      "subscription": {...}}

Access: the view role in the namespace, or operator and above where the cluster's
`logs_for_viewers` setting is off; refusals are audited once per user, pod and hour.
"""
