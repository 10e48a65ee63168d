"""The data in ``config/``: read once, validated, cross-checked, then shared read-only.

Each TOML file has one schema (``generators.table_models``, re-exported here). A user may replace
any table by putting a file of the same name in their config folder (``backbeat`` under
platformdirs' user config dir); it must pass the same validation. Code never branches on a genre or
artist name: it looks the answer up here.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from .errors import ConfigError, FileTooLargeError
from .files import CONFIG_FILE_LIMIT, read_limited
from .model import GenreDNA
from .settings import CONFIG_DIR, USER_CONFIG_DIR
from .table_models import (  # noqa: F401 - re-exported: the schemas are imported from here
    ArrangementTables,
    ArrangementTemplate,
    ArtistEntry,
    CatalogEffect,
    CatalogInstrument,
    CatalogPreset,
    CatalogTables,
    ChangeWords,
    CreativityWords,
    DrumFill,
    DrumStyle,
    DrumTables,
    FeelSpec,
    GenreEntry,
    HarmonySpec,
    IntentTables,
    LeadStyle,
    Level,
    Lexicon,
    MixChange,
    MoodEntry,
    Nudge,
    OutputWords,
    ParamSpec,
    PartSpec,
    PartTables,
    PatternStyle,
    ProgressionTemplate,
    RollKind,
    QualityEntry,
    RefineTables,
    ScaleEntry,
    SectionSpec,
    SubgenreEntry,
    SlotSpec,
    SoundRule,
    SoundTables,
    Table,
    TheoryTables,
    Unit,
)

T = TypeVar("T", bound=Table)

# --- loading -----------------------------------------------------------------------------------------


def _read(name: str) -> tuple[Path, dict]:
    for folder in (USER_CONFIG_DIR, CONFIG_DIR):
        path = folder / f"{name}.toml"
        if path.is_file():
            try:
                return path, tomllib.loads(read_limited(path, CONFIG_FILE_LIMIT).decode("utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, FileTooLargeError) as e:
                raise ConfigError(f"{path}: {e}") from e
    raise ConfigError(f"config table {name}.toml not found in {USER_CONFIG_DIR} or {CONFIG_DIR}")


def _validate(model: type[T], origin: dict[str, Path], data: dict) -> T:
    """``data`` as ``model``; an error names the file whose top-level key holds the bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        key = str(first["loc"][0]) if first["loc"] else ""
        path = origin.get(key) or next(iter(origin.values()))
        raise ConfigError(f"{path}: {where}: {first['msg']} ({e.error_count()} error(s))") from e


def load(model: type[T], *names: str) -> T:
    """Validate the union of ``names``' TOML files as ``model``.

    A file whose name is a field of ``model`` (and which has no top-level key of that name) is that
    field's value, as ``drums.toml`` is ``PartTables.drums``; any other file contributes its
    top-level keys.
    """
    merged: dict = {}
    origin: dict[str, Path] = {}
    for name in names:
        path, data = _read(name)
        if name in model.model_fields and name not in data:
            merged[name] = data
            origin[name] = path
        else:
            merged.update(data)
            origin.update(dict.fromkeys(data, path))
    return _validate(model, origin or {"": CONFIG_DIR}, merged)


class Tables:
    """Every table, cross-checked: each genre's templates and styles exist, each artist's genre too."""

    def __init__(self) -> None:
        self.intent = load(IntentTables, "artists", "genres", "moods", "lexicon", "subgenres")
        self.theory = load(TheoryTables, "theory")
        self.arrangement = load(ArrangementTables, "progressions", "arrangements")
        self.parts = load(PartTables, "parts", "drums", "patterns")
        self.catalog = load(CatalogTables, "mpc_beats")
        self.sound = load(SoundTables, "sound")
        self.refine = load(RefineTables, "refine")
        self._check()

    def _check(self) -> None:
        genres, scales = self.intent.genres, self.theory.scales
        problems = [f"artist {a.name}: unknown genre {a.genre}" for a in self.intent.artists if a.genre not in genres]
        names: dict[str, str] = {}
        for a in self.intent.artists:
            for phrase in (a.name, *a.aliases):
                other = names.setdefault(phrase.lower().replace("-", " "), a.name)
                if other != a.name:
                    problems.append(f"artists.toml: {phrase!r} names both {other} and {a.name}")
        for key, g in genres.items():
            refs = {
                "arrangement": (g.arrangement, self.arrangement.templates),
                "drums": (g.drums, self.parts.drums.styles),
                "bass": (g.bass, self.parts.bass),
                "comping": (g.comping, self.parts.comping),
                "lead": (g.lead, self.parts.lead),
            }
            problems += [f"genre {key}: unknown {what} {ref}" for what, (ref, table) in refs.items() if ref not in table]
            problems += [f"genre {key}: unknown mode {m}" for m in g.modes if m not in scales]
            problems += [f"genre {key}: unknown arrangement {a}" for a in g.arrangements if a not in self.arrangement.templates]
        problems += self._check_subgenres()
        for m in self.intent.moods.values():
            if m.mode and m.mode not in scales:
                problems.append(f"mood {m.tags}: unknown mode {m.mode}")
            if m.genre_hint and m.genre_hint not in genres:
                problems.append(f"mood {m.tags}: unknown genre hint {m.genre_hint}")
            problems += [f"mood {m.tags}: {f} is not a DNA field" for f in m.dna if f not in GenreDNA.model_fields]
        for t in self.arrangement.progressions:
            problems += [f"progression {t.name}: unknown mode {m}" for m in t.modes if m not in scales]
        drums = self.parts.drums
        for key, style in drums.styles.items():
            lanes = [lane for v in style.variants.values() for lane in v] + list(style.halftime)
            problems += [f"drum style {key}: unknown lane {lane}" for lane in lanes if lane not in drums.gm]
            problems += [f"drum style {key}: unknown fill {f}" for f in style.fills if f not in drums.fills]
            problems += [f"drum style {key}: unknown roll {r}" for r in style.roll_kinds if r not in drums.rolls]
            problems += [f"drum style {key}: unknown turn lane {lane}" for lane in style.turn if lane not in drums.gm]
            problems += [f"drum style {key}: unknown roll lane {style.roll_lane}" for _ in [0] if style.roll_lane not in drums.gm]
        for key, fill in drums.fills.items():
            problems += [f"drum fill {key}: unknown lane {lane}" for lane in [*fill.lanes, *fill.clear] if lane not in drums.gm and lane != "*"]
            problems += [f"drum fill {key}: unknown roll {fill.roll}" for _ in [0] if fill.roll and fill.roll not in drums.rolls]
        categories = {c for i in self.catalog.instruments for c in i.categories}
        effects = {e.category for e in self.catalog.effects}
        for rule in self.sound.rules:
            if not set(rule.categories) & categories:
                problems.append(f"sound rule {rule.part}/{rule.families}: no catalog instrument in {rule.categories}")
            problems += [f"sound rule {rule.part}: no catalog effect of category {s.effect}" for s in rule.chain if s.effect not in effects]
        refine = self.refine
        problems += [f"refine: mix change {c.mix} is not in [mix]" for c in refine.changes.values() if c.kind == "mix" and c.mix not in refine.mix]
        problems += [f"refine: nudge of unknown effect category {n.category}" for m in refine.mix.values() for n in m.nudges if n.category not in effects]
        if problems:
            raise ConfigError(f"{len(problems)} problem(s) in config tables: " + "; ".join(problems[:5]))


    def _check_subgenres(self) -> list[str]:
        """Every subgenre plays as a genre that exists, and none shares a name with a genre: a genre
        that gained an idiom of its own in genres.toml makes its row in subgenres.toml one to delete."""
        genres = self.intent.genres
        taken: dict[str, str] = {}
        for key, g in genres.items():
            for phrase in (key, g.name, *g.aliases):
                taken.setdefault(phrase.lower().replace("-", " "), key)
        problems = []
        for key, sub in self.intent.subgenres.items():
            if sub.parent not in genres:
                problems.append(f"subgenres.toml: {key}: unknown parent genre {sub.parent}")
            for phrase in (key, sub.name, *sub.aliases):
                genre = taken.get(phrase.lower().replace("-", " "))
                if genre is not None:
                    problems.append(f"subgenres.toml: {phrase!r} of row {key} is also a name of genres.toml's {genre}, "
                                    f"which has an idiom of its own: delete the row {key} from subgenres.toml")
                    break
        return problems


@cache
def tables() -> Tables:
    """The process's tables, read and checked once."""
    return Tables()
