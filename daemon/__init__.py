"""The daemon: the long-running trio service that owns a song's live performance.

Read it in this order. ``main`` holds the one nursery and shows every task. ``player`` is the
playback side: it owns the engine process (which ``keeper`` starts and starts again, never giving
up the daemon) and the ``timeline`` (what plays at every bar), and feeds the engine a commit horizon
ahead; the transport (playing or stopped, and whether the song ended; the tempo) is its truth. ``song`` holds ``LiveSong``,
the one owner of the live song: its ``SongState``, its session folder (the only writer; ``saving``
keeps it written through a full disk) and its history; every change (regenerate, tempo, refine,
alternatives, choose, undo) is its method. ``composer`` runs the pipeline once per new song and
lands what it makes on the live song as it arrives (the model's clips too). ``commands`` is the one
table of protocol commands and its ``dispatch``, which the socket ``server`` and the ``controller``
(``controller_port``, ``controls`` maps, ``perform`` actions) both use. ``protocol`` + ``envelope`` +
``framing`` + ``address`` are the wire, shared with the TUI, with no trio import; ``bus`` fans events out to
subscribers; ``state`` remembers the last session across restarts; ``errors`` is the one error
root, whose refusals the server maps to protocol error codes.

The daemon must never block its trio loop for more than a few milliseconds (generation runs in
worker threads) and never plays a note itself: every note goes through the engine process.
"""
