"""The daemon: the long-running trio service that owns a song's live performance.

``main`` holds the one nursery and shows every task; ``server`` speaks the socket protocol
(``protocol`` + ``framing`` + ``address``, shared with the TUI, with no trio import); ``player`` owns the
``timeline`` and feeds the engine process a commit horizon ahead, which ``keeper`` starts and starts
again (never giving up the daemon); ``supervisor`` runs the pipeline and lands its results on the
timeline, ``saving`` keeps the session folder written through a full disk; ``controller`` turns a
MIDI controller's pads into commands; ``bus`` fans events out to subscribers; ``state`` remembers
the last session across restarts.

The daemon must never block its trio loop for more than a few milliseconds (generation runs in
worker threads) and never plays a note itself: every note goes through the engine process.
"""
