"""The composer: from one prompt to a validated ``SongState`` and the files of a session folder.

Read in pipeline order: ``intent`` (prompt -> PipelineIntent), ``harmony`` (progression, with
``colour`` for chromatic chords), ``arrangement`` (sections), ``drums``/``bass``/``chords``/``melody``
(parts: ``groove`` decides the drum bars, ``phrase`` the lead's rhythm, ``feel`` swings and humanises
every part, ``grid`` is what they share), ``sound`` (presets and effect chains), ``session`` (the
folder), orchestrated by ``pipeline``. ``model`` holds the pydantic values every stage exchanges,
``tables`` the validated ``config/`` data, ``theory`` pitch and scale arithmetic, ``midi`` writes
Standard MIDI Files (``instruments`` names each part's preview program; ``midi_inspect`` reads and
validates them, ``midi_edit`` merges, splits and decodes hex), ``llm/`` the language-model backend.

What producers type is read by ``requests`` (the grammar of changes, on ``words`` for numbers,
``spelling`` for misspellings and ``targets`` for parts, sections and chords) into a ``reading``;
``transport`` reads commands ("go to the chorus", "undo"), ``routing`` tells questions, commands,
changes and new songs apart, and ``refine`` (with ``structure`` for the form) applies the changes.

Generators are pure functions of their inputs and a seed: same seed, same song. They never open a
MIDI port, never sleep on a clock, and never write a file except through ``session``.
"""
