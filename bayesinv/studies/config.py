"""The one checker of study configurations (``bayesinv run`` and ``bayesinv sbc``).

A configuration is a TOML file read with :func:`bayesinv.io.read_toml` into nested dicts. A
*schema* says what it may hold: a dict mapping each key to

- a type (``int``, ``float``, ``str``, ``bool``, ``list``): a required key of that type;
- a :class:`Key`: a type with an optional default and bounds;
- a dict: a sub-table, checked against that dict (a missing sub-table is checked as an
  empty one, so its required keys are reported as missing).

:func:`check_table` checks every key and returns the table with defaults filled in and
numbers in canonical form. Every problem is a :class:`bayesinv.io.UserError` whose message
names the file and the full dotted key (``run.toml: sampler.draws must be an integer >= 1,
got True``). Unknown keys are errors with a suggestion (``did you mean 'draws'?``), because
a misspelt optional key would otherwise be dropped without a word; booleans are refused
where numbers are expected (TOML's ``true`` is not a count); an integer is accepted where a
float is expected. Numbers are checked by :mod:`bayesinv._checks`, so the wording is the
package's.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from bayesinv._checks import check_choice, check_float, check_int
from bayesinv.io import UserError

__all__ = ["REQUIRED", "Key", "check_table", "did_you_mean", "schema_of"]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: default of a :class:`Key` that must be given
REQUIRED = _Required()

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_NAMES[list] = "a list"
_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


@dataclass(frozen=True)
class Key:
    """What one configuration key may hold.

    Parameters
    ----------
    kind : type
        ``int``, ``float``, ``str``, ``bool`` or ``list``.
    default : object
        Value when the key is absent (not checked, so ``None`` means "not set");
        :data:`REQUIRED` (the default) makes the key required.
    low, high : float, optional
        Inclusive bounds of a number (see ``low_open``, ``high_open``).
    low_open, high_open : bool
        Exclude the bound itself.
    choices : tuple, optional
        Allowed values.
    items : type, optional
        Type of every item of a list (``int``, ``float``, ``str`` or ``bool``).
    nonempty : bool
        Refuse an empty string or list.
    """

    kind: type
    default: object = REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    items: type | None = None
    nonempty: bool = False

    @property
    def required(self) -> bool:
        """Whether the key must be given."""
        return self.default is REQUIRED

    def expected(self) -> str:
        """Describe what the key may hold, in words (for messages)."""
        text = _NAMES.get(self.kind, getattr(self.kind, "__name__", str(self.kind)))
        if self.kind is list and self.items is not None:
            text = "a list of " + _PLURALS.get(self.items, self.items.__name__)
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        return text

    def check(self, value, source: str, name: str):
        """Check one value; return it in canonical form.

        Parameters
        ----------
        value : object
            The value read.
        source : str
            The file (or what the configuration is), starting the message.
        name : str
            The full dotted key.

        Returns
        -------
        object
            ``value`` (an ``int``, a ``float`` for a number, ...).

        Raises
        ------
        UserError
            Naming ``source`` and ``name``.
        """
        try:
            return self._check(value, source, name)
        except UserError:
            raise
        except ValueError as err:  # the message of bayesinv._checks: "{source}: {name} ..."
            raise UserError(str(err)) from None

    def _check(self, value, source: str, name: str):
        if self.choices is not None:
            return check_choice(value, source, name, self.choices)
        bounds = {"low": self.low, "high": self.high}
        if self.kind is int:
            return check_int(value, source, name, **bounds)
        if self.kind is float:
            return check_float(
                value, source, name, **bounds, low_open=self.low_open, high_open=self.high_open
            )
        if self.kind is list:
            if not isinstance(value, list) or (self.nonempty and not value):
                what = "a non-empty list" if self.nonempty else "a list"
                raise UserError(f"{source}: {name} must be {what}, got {value!r}")
            if self.items is None:
                return list(value)
            item = Key(self.items)
            return [item.check(v, source, f"{name}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, self.kind):
            raise UserError(f"{source}: {name} must be {self.expected()}, got {value!r}")
        if self.nonempty and not value:
            raise UserError(f"{source}: {name} must be a non-empty string, got {value!r}")
        return value


def did_you_mean(word: str, choices) -> str:
    """Suggest the closest of ``choices`` to a misspelt ``word`` (:mod:`difflib`).

    Parameters
    ----------
    word : str
        What was written.
    choices : iterable of str
        What is accepted.

    Returns
    -------
    str
        ``"did you mean 'x'?"``, or the list of accepted words when none is close.
    """
    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if not choices:
        return "none are accepted here"
    return "expected one of " + ", ".join(choices)


def _spec(value) -> Key | dict:
    if isinstance(value, Key | dict):
        return value
    if isinstance(value, type):
        return Key(value)
    raise TypeError(f"check_table: schema entries must be a type, a Key or a dict, got {value!r}")


def check_table(table, schema: dict, *, source: str, prefix: str = "", origin=None) -> dict:
    """Check a configuration table against a schema (see the module docstring).

    Parameters
    ----------
    table : dict
        The table as read.
    schema : dict
        Key → type, :class:`Key` or sub-schema (dict).
    source : str
        The file the table comes from (or what it is), starting every message.
    prefix : str
        Dotted path of ``table`` in the file (e.g. ``"sampler."``), prepended to key names.
    origin : dict of str to str, optional
        Per-key prefix overriding ``prefix`` (for a table merged from several, so that a key
        is named in the table it came from).

    Returns
    -------
    dict
        Every key of the schema with a value: the checked value given, or the default.

    Raises
    ------
    UserError
        For the first unknown key (with a suggestion), missing required key or value of the
        wrong type or out of bounds, naming ``source`` and the dotted key.
    """
    origin = origin or {}
    if not isinstance(table, dict):
        what = prefix.rstrip(".") or "the configuration"
        raise UserError(f"{source}: {what} must be a table, got {table!r}")
    for key in table:
        if key not in schema:
            name = origin.get(key, prefix) + str(key)
            kind = "table" if isinstance(table[key], dict) else "key"
            raise UserError(f"{source}: {name}: unknown {kind}; {did_you_mean(key, schema)}")
    out = {}
    for key, entry in schema.items():
        spec = _spec(entry)
        name = origin.get(key, prefix) + key
        if isinstance(spec, dict):
            out[key] = check_table(table.get(key, {}), spec, source=source, prefix=name + ".")
        elif key in table:
            out[key] = spec.check(table[key], source, name)
        elif spec.required:
            raise UserError(f"{source}: {name} is missing; expected {spec.expected()}")
        else:
            out[key] = spec.default
    return out


def schema_of(required: dict, optional: dict | None = None) -> dict:
    """Build a schema from a study's ``REQUIRED`` and ``OPTIONAL`` declarations.

    Parameters
    ----------
    required : dict
        Key → type or :class:`Key` (required whatever its default).
    optional : dict, optional
        Key → :class:`Key`, or key → default value (its type taken from the value; an
        integer default accepts integers only, a float default accepts any number).

    Returns
    -------
    dict
        A schema for :func:`check_table`.
    """
    schema = {}
    for key, entry in required.items():
        spec = _spec(entry)
        schema[key] = replace(spec, default=REQUIRED) if isinstance(spec, Key) else spec
    for key, entry in (optional or {}).items():
        if isinstance(entry, Key):
            schema[key] = entry
        elif isinstance(entry, bool | int | float | str | list):
            schema[key] = Key(type(entry), default=entry)
        else:
            raise TypeError(
                f"schema_of: optional key {key!r} needs a Key or a default of type int, float, "
                f"str, bool or list, got {entry!r}"
            )
    return schema
