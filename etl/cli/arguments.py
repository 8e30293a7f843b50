"""Argument types the commands share: a value converted from text and checked, or a usage
error (exit 2) that says what was expected."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def checked(
    convert: Callable[[str], T], accept: Callable[[T], bool], expected: str
) -> Callable[[str], T]:
    """An argparse ``type``: ``convert(text)`` if that works and ``accept`` holds for it,
    else the error "'<text>' is not <expected>"."""

    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {expected}")
        return value

    return parse
