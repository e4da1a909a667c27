"""Which lifecycle step may follow which: draft -> running <-> paused -> concluded | aborted."""

from .models import State

# verb -> the states it may start from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "start": (State.DRAFT,),
    "resume": (State.PAUSED,),
    "pause": (State.RUNNING,),
    "conclude": (State.RUNNING, State.PAUSED),
    "abort": (State.DRAFT, State.RUNNING, State.PAUSED),
    "set_weights": (State.DRAFT, State.RUNNING, State.PAUSED),
}
# verb -> the state it leads to
TARGET_STATE = {
    "start": State.RUNNING,
    "resume": State.RUNNING,
    "pause": State.PAUSED,
    "conclude": State.CONCLUDED,
    "abort": State.ABORTED,
}
