"""Typer's value coercion without pydantic for the values that need none.

Typer (0.29 and later) turns every parsed option value into its Python value
through a pydantic ``TypeAdapter`` built per parameter on first use, and it
builds one for every parameter of the command run, given or not: importing
pydantic and building ~20 adapters is a third of the start-up of
``presencectl cat``. Nearly all of our values need nothing from it: a ``str``
option's text is its value, a ``list[str]`` option's texts are, an enum
option's word maps to its member (Typer's own ``coerce_cli_choice``).

:func:`install` gives each parameter of a command a :class:`_Shortcut` that
takes those cases and hands everything else (any other annotation, a parser,
a path check, a value it does not recognise, and so every error message) to
the runtime parameter Typer would have built, built only then. Typer still
parses; this changes only how a value already parsed becomes its Python value,
and only to the same value.

This is the one place that touches Typer internals (``_TyperParameter``,
``_runtime_param``, ``RuntimeParam``, ``build_runtime_param``,
``coerce_cli_choice``). When they are not there, :func:`install` does nothing
and Typer works as it ships; ``tests/test_typer_coercion.py`` fails loudly
then, and holds every shortcut to Typer's own result for every parameter of
every command.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, routes_to_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - a Typer without these internals: coerce as it ships
    AVAILABLE = False
else:
    AVAILABLE = hasattr(_TyperParameter, "get_runtime_param") and hasattr(RuntimeParam, "_coerce_value")

__all__ = ["install", "AVAILABLE"]

_STR, _STRS, _CHOICE = "str", "strs", "choice"


def _shape(descriptor: Any) -> str | None:
    """Which shortcut fits this parameter (None: Typer's runtime parameter from the start)."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    if getattr(info, "click_type", None) is not None:
        return None
    annotation = descriptor.annotation
    if annotation is str:
        return None if routes_to_path(annotation, info) else _STR
    if annotation == list[str]:
        return None if routes_to_path(str, info) else _STRS
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _CHOICE
    return None


if AVAILABLE:

    class _Shortcut(RuntimeParam):  # type: ignore[misc, valid-type]
        """A runtime parameter that coerces plain values itself and defers the rest to Typer's."""

        def __init__(self, descriptor: Any, shape: str | None) -> None:
            # (RuntimeParam is a frozen dataclass: fields set as its __init__ would)
            object.__setattr__(self, "parameter_info", descriptor.parameter_info)
            object.__setattr__(self, "annotation", descriptor.annotation)
            object.__setattr__(self, "_descriptor", descriptor)
            object.__setattr__(self, "_shape", shape)
            object.__setattr__(self, "_typer", None)

        def _full(self) -> Any:
            """Typer's own runtime parameter (pydantic), built on first need."""
            full = self._typer
            if full is None:
                full = build_runtime_param(self._descriptor)
                object.__setattr__(self, "_typer", full)
            return full

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            shape = self._shape
            if shape == _STR:
                if type(value) is str:
                    return value
            elif shape == _STRS:
                if isinstance(value, (list, tuple)) and all(type(v) is str for v in value):
                    return list(value)
            elif shape == _CHOICE:
                try:
                    return coerce_cli_choice(
                        value,
                        choices=list(self.annotation),
                        case_sensitive=self.parameter_info.case_sensitive,
                        ctx=ctx,
                    )
                except ValueError:
                    pass  # Typer's message, through Typer's path
            return self._full()._coerce_value(value, param=param, ctx=ctx)


def install(params: list[Any]) -> None:
    """Give each Typer parameter in ``params`` the shortcut (see the module text)."""
    if not AVAILABLE:
        return
    for param in params:
        if isinstance(param, _TyperParameter) and getattr(param, "_runtime_param", None) is None:
            descriptor = param.type_descriptor
            param._runtime_param = _Shortcut(descriptor, _shape(descriptor))
