"""The terminal UI: a Textual (asyncio) client of the daemon's socket, in its own process.

    client      the socket connection: greeting, requests by id, events, reconnect with backoff
    messages    what the client posts into the app (Connected, Disconnected, DaemonEvent)
    commands    the input line as a table: slash commands and plain text → protocol requests (pure)
    widgets/    transport bar, arrangement timeline, pipeline stages, log, approval gate, help
                screen — each renders what the daemon said (or the tables the app acts on)
    lifeline    in a browser tab: end with the tab, the web server or SIGTERM, promptly
    web/        the page ``backbeat tui --web`` serves
    app         composes the widgets and routes messages; ``app.tcss`` lays them out

The TUI is a window onto the daemon, never a second source of truth: it owns no state the daemon
does not have (every view is rebuilt from ``status`` on connect and kept current by events), it
never plays, schedules or stores anything, and it never starts a daemon. It must never import trio
or anything built on it: Textual is asyncio-only, so it shares only the trio-free
``daemon.protocol`` and ``daemon.framing``. Quitting it only disconnects: the music plays on.
"""
