"""Change windows: when production may change without an explicit override.

`[deploy.windows]` lists allowed windows (weekdays and a time range) and freeze periods.
Outside every allowed window, or inside a freeze, the window is *closed*: the gate then asks
for an approval that names the override for each `production` call (see `WindowGuard`).
With no windows and no freezes configured the window is always open.

Times are wall-clock times in `timezone`; a window whose end is not after its start runs
past midnight (`22:00`-`02:00`), and `00:00`-`00:00` is the whole day. Freeze datetimes
without an offset are in `timezone` too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.base import Effect

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")


class AllowedWindow(BaseModel):
    """Days of the week and a `HH:MM`-`HH:MM` range in which production may change."""

    model_config = ConfigDict(extra="forbid")

    days: list[Day] = Field(min_length=1)
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError(f"expected a time as HH:MM (00:00 to 24:00), got {value!r}")
        return value

    def describe(self) -> str:
        return f"{','.join(self.days)} {self.start}-{self.end}"

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock time `local` falls inside this window."""
        start, end = _minutes(self.start), _minutes(self.end)
        minute = local.hour * 60 + local.minute
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        if start < end:
            return today in self.days and start <= minute < end
        # Overnight: the part after `start` belongs to the listed day, the rest to the next.
        return (today in self.days and minute >= start) or (yesterday in self.days and minute < end)


class Freeze(BaseModel):
    """A period in which production must not change without an override."""

    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    reason: str = "change freeze"

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        # Compare as naive wall-clock times when either is naive: both are in `timezone`.
        start, end = self.start, self.end
        if (start.tzinfo is None) != (end.tzinfo is None):
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        if end <= start:
            raise ValueError("a freeze must end after it starts")
        return self


class ChangeWindowSettings(BaseModel):
    """The `[deploy.windows]` section.

    Attributes:
        allowed: Windows in which production may change; empty means any time.
        freezes: Periods in which it may not, whatever `allowed` says.
        timezone: IANA zone name the times are written in.
        exempt_tools: Production tools never held by the window. A rollback restores the
            version production had before this run, so it must not wait for a window.
    """

    model_config = ConfigDict(extra="forbid")

    allowed: list[AllowedWindow] = Field(default_factory=list[AllowedWindow])
    freezes: list[Freeze] = Field(default_factory=list[Freeze])
    timezone: str = "UTC"
    exempt_tools: list[str] = Field(default_factory=lambda: ["hotfix_rollback"])

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        _zone(value)
        return value

    @property
    def configured(self) -> bool:
        """Whether any window or freeze restricts production changes."""
        return bool(self.allowed or self.freezes)


@dataclass(frozen=True)
class WindowStatus:
    """Whether production may change now without an override, and why."""

    open: bool
    reason: str


def window_status(settings: ChangeWindowSettings, now: datetime | None = None) -> WindowStatus:
    """The change window at `now` (default: the current time; naive means `timezone`)."""
    zone = _zone(settings.timezone)
    now = now or datetime.now(UTC)
    local = now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)
    for freeze in settings.freezes:
        start, end = _aware(freeze.start, zone), _aware(freeze.end, zone)
        if start <= local < end:
            return WindowStatus(
                False,
                f"{freeze.reason} (freeze from {_show(start, zone)} to {_show(end, zone)} "
                f"{settings.timezone})",
            )
    if not settings.allowed:
        what = "no change windows are configured" if not settings.freezes else "no freeze now"
        return WindowStatus(True, what)
    for window in settings.allowed:
        if window.contains(local):
            return WindowStatus(
                True, f"inside the allowed change window {window.describe()} {settings.timezone}"
            )
    windows = "; ".join(window.describe() for window in settings.allowed)
    when = f"{DAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {settings.timezone}"
    return WindowStatus(False, f"{when} is outside the allowed change windows ({windows})")


class WindowGuard:
    """What the gate asks before a call: is the change window closed for it?

    Args:
        settings: The windows and freezes.
        clock: The current time (tests pass a fixed one).
    """

    def __init__(
        self,
        settings: ChangeWindowSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.clock = clock

    def status(self) -> WindowStatus:
        """The change window now."""
        return window_status(self.settings, self.clock())

    def check(self, effect: Effect, tool: str | None = None) -> str | None:
        """Why a call with `effect` (of tool `tool`) is outside the window; None if it is not.

        Only `production` calls are held, and never the exempt tools (rollback).
        """
        if effect is not Effect.PRODUCTION or not self.settings.configured:
            return None
        if tool is not None and tool in self.settings.exempt_tools:
            return None
        status = self.status()
        return None if status.open else status.reason


def window_guard_from_config(config: object) -> WindowGuard | None:
    """A guard from `config.deploy.windows`; None when no window or freeze is configured."""
    raw = getattr(getattr(config, "deploy", None), "windows", None)
    if raw is None:
        return None
    settings = (
        raw if isinstance(raw, ChangeWindowSettings) else ChangeWindowSettings.model_validate(raw)
    )
    return WindowGuard(settings) if settings.configured else None


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Paris)"
        ) from None


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _show(moment: datetime, zone: tzinfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"


__all__ = [
    "AllowedWindow",
    "ChangeWindowSettings",
    "Freeze",
    "WindowGuard",
    "WindowStatus",
    "window_guard_from_config",
    "window_status",
]
