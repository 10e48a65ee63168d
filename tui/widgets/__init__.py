"""The TUI's widgets: each renders one part of what the daemon reports, and nothing it does not.

    transport   state, tempo, bar.beat, section; the connection line
    timeline    the arrangement: sections, play position, per track × section clip state
    pipeline    the stages of the current job, with status and timings
    log         log and swap events, the TUI's own notes and errors (one entry each, wrapped)
    gate        the approval gate waiting, with its four answers
    help        the help screen: every key and slash command
"""

from .log import EventLog
from .pipeline import PipelineView
from .timeline import Arrangement
from .transport import TransportBar

__all__ = ["Arrangement", "EventLog", "PipelineView", "TransportBar"]
