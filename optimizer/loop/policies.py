"""Contact policies across weeks: who may be contacted in the week dated D, given the contact history.

The contact history is one row per customer of every saved (not withdrawn) plan: its plan id and date, the
action and channel it assigned, and whether the customer was held out (`CONTACT_COLUMNS`). A week dated D only
counts plans dated strictly before D, so re-planning an old week sees the history as it was then.

The policies (`ContactPolicy`), each off when its number is 0 or None:

- holdout integrity (`holdout_window_days` H, default 30, the measurement window): a customer held out in
  a plan dated d with d < D < d + H gets no action this week (its measurement window is still open);
- cool-down (`cooldown_days` N): a customer treated (not held out) in a plan dated d with d < D < d + N gets
  no action;
- rolling channel caps (`channel_caps`, e.g. email at most 2 in 28 days): a customer treated on that channel M
  times in plans dated d with D - W < d < D may get no action of that channel this week (this week would be
  contact M + 1 within the last W days); the other channels stay open;
- a persistent global control group (`global_control` g): a fixed fraction of the whole customer base, chosen
  by a keyed hash of `customer_id` (SipHash-2-4 keyed by a salt created once and stored in the history), so
  membership is the same every week, on every machine and for every cohort; its customers are never treated.

Everything is computed with array operations over the history (pandas group-bys), never a Python loop over
customers. A customer excluded for several reasons is listed once, under the first of `REASONS`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

CONTACT_COLUMNS = ["plan_id", "plan_date", "customer_id", "action_id", "channel", "holdout"]
EXCLUDED_COLUMNS = ["customer_id", "reason", "plan_id", "until"]
# The reasons, in the order a customer excluded for several is attributed to.
REASONS = ("global_control", "holdout_window", "cooldown", "channel_cap")
# The keys of `Exclusions.counts` (the JSON's `excluded`), in the order the CLI contract lists them.
EXCLUSION_COUNTS = ("holdout_window", "cooldown", "channel_cap", "global_control")
CHANNELS = ("email", "push", "in_app", "call")
DEFAULT_HOLDOUT_WINDOW_DAYS = 30
MAX_GLOBAL_CONTROL = 0.5
SALT_LENGTH = 16  # characters: SipHash takes a 16-byte key
_CAP = re.compile(r"^\s*([a-z_]+)\s*=\s*(\d+)\s*:\s*(\d+)\s*$")


class PolicyError(ValueError):
    """A contact-policy setting that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class ChannelCap:
    """At most `max_contacts` actions of `channel` within the last `window_days` days, this week included."""

    channel: str
    max_contacts: int
    window_days: int

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise PolicyError(f"unknown channel {self.channel!r} (use one of {', '.join(CHANNELS)})")
        if self.max_contacts < 1:
            raise PolicyError(f"a {self.channel} cap must allow at least 1 contact, got {self.max_contacts}")
        if self.window_days < 1:
            raise PolicyError(
                f"a {self.channel} cap needs a window of at least 1 day, got {self.window_days}"
            )

    def __str__(self) -> str:
        return f"{self.channel}={self.max_contacts}:{self.window_days}"

    @classmethod
    def parse(cls, text: str) -> ChannelCap:
        """`CHANNEL=M:W`, e.g. `email=2:28`."""
        match = _CAP.match(str(text).lower())
        if not match:
            raise PolicyError(f"{text!r} is not CHANNEL=M:W (e.g. email=2:28)")
        return cls(match.group(1), int(match.group(2)), int(match.group(3)))


@dataclass(frozen=True)
class ContactPolicy:
    holdout_window_days: int = DEFAULT_HOLDOUT_WINDOW_DAYS
    cooldown_days: int = 0
    channel_caps: tuple[ChannelCap, ...] = field(default_factory=tuple)
    global_control: float = 0.0

    def __post_init__(self) -> None:
        for name in ("holdout_window_days", "cooldown_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PolicyError(f"{name} must be a whole number of days >= 0, got {value!r}")
        g = self.global_control
        if not (isinstance(g, int | float) and math.isfinite(g) and 0.0 <= g <= MAX_GLOBAL_CONTROL):
            raise PolicyError(
                f"global_control must be a fraction between 0 and {MAX_GLOBAL_CONTROL}, got {g!r}"
            )
        channels = [cap.channel for cap in self.channel_caps]
        if len(set(channels)) != len(channels):
            raise PolicyError("at most one cap per channel")

    @property
    def lookback_days(self) -> int:
        """How far back a week's exclusions can look: only plans dated within this many days count."""
        windows = [
            self.holdout_window_days,
            self.cooldown_days,
            *(cap.window_days for cap in self.channel_caps),
        ]
        return max(windows)

    @property
    def active(self) -> bool:
        return bool(
            self.holdout_window_days or self.cooldown_days or self.channel_caps or self.global_control
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channel_caps"] = [str(cap) for cap in self.channel_caps]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ContactPolicy:
        caps = tuple(ChannelCap.parse(cap) for cap in data.get("channel_caps", ()))
        return cls(
            holdout_window_days=int(data.get("holdout_window_days", DEFAULT_HOLDOUT_WINDOW_DAYS)),
            cooldown_days=int(data.get("cooldown_days", 0)),
            channel_caps=caps,
            global_control=float(data.get("global_control", 0.0)),
        )


def new_salt() -> str:
    """A random salt for the global control group's hash (created once per history)."""
    return secrets.token_hex(SALT_LENGTH // 2)


def control_hash(customer_ids, salt: str) -> np.ndarray:
    """Uniform [0, 1) value per id from SipHash-2-4 keyed by `salt` (vectorized; stable across machines)."""
    key = str(salt)
    if len(key.encode("utf8")) != SALT_LENGTH:
        raise PolicyError(
            f"the control-group salt must be {SALT_LENGTH} bytes, got {len(key.encode('utf8'))}"
        )
    ids = pd.Series(np.asarray(customer_ids, dtype=object), dtype=object).astype(str)
    hashed = pd.util.hash_pandas_object(ids, index=False, encoding="utf8", hash_key=key, categorize=False)
    # The top 53 bits as a double in [0, 1): exact, so membership never depends on float rounding.
    return (hashed.to_numpy(dtype=np.uint64) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def global_control_members(customer_ids, salt: str, fraction: float) -> np.ndarray:
    """Boolean per id: is this customer in the persistent global control group of size about `fraction`?"""
    if fraction <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    return control_hash(customer_ids, salt) < fraction


def empty_contacts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "plan_id": pd.Series(dtype="int64"),
            "plan_date": pd.Series(dtype="datetime64[s]"),
            "customer_id": pd.Series(dtype=object),
            "action_id": pd.Series(dtype="int64"),
            "channel": pd.Series(dtype=object),
            "holdout": pd.Series(dtype=bool),
        }
    )


@dataclass(frozen=True)
class Exclusions:
    """What the contact policies exclude in one week, per customer of the cohort (cohort order)."""

    plan_date: dt.date
    policy: ContactPolicy
    reason: np.ndarray  # object: '' (contactable) or the first reason of REASONS that excludes the customer
    blocked_channels: pd.DataFrame  # customer position, channel, plan_id, until: channel caps reached
    table: pd.DataFrame  # EXCLUDED_COLUMNS: one row per excluded customer (and per capped channel)

    @property
    def excluded(self) -> np.ndarray:
        """Customers who get no action this week (control group, open holdout window, cool-down)."""
        return self.reason != ""

    @property
    def counts(self) -> dict[str, int]:
        """Customers per reason (the JSON's `excluded`); channel_cap: customers with a capped channel."""
        out = {reason: int((self.reason == reason).sum()) for reason in REASONS if reason != "channel_cap"}
        capped = self.blocked_channels["customer"].to_numpy()
        out["channel_cap"] = int(len(np.unique(capped[~self.excluded[capped]]))) if len(capped) else 0
        return {reason: out[reason] for reason in EXCLUSION_COUNTS}

    def allowed(self, channels: np.ndarray) -> np.ndarray:
        """customers x actions: may customer i get action k (of catalog channel `channels[k]`) this week?"""
        channels = np.asarray(channels, dtype=object)
        allowed = np.ones((len(self.reason), len(channels)), dtype=bool)
        allowed[self.excluded] = False
        if len(self.blocked_channels):
            for channel in np.unique(self.blocked_channels["channel"].to_numpy()):
                rows = self.blocked_channels.loc[self.blocked_channels["channel"] == channel, "customer"]
                columns = np.flatnonzero(channels == channel)
                if len(columns):
                    allowed[np.ix_(rows.to_numpy(), columns)] = False
        return allowed


def contact_exclusions(
    customer_ids,
    contacts: pd.DataFrame | None,
    plan_date: dt.date,
    policy: ContactPolicy,
    salt: str | None = None,
) -> Exclusions:
    """Apply `policy` for the week dated `plan_date` to the cohort `customer_ids` against `contacts`.

    `contacts` has `CONTACT_COLUMNS` (withdrawn plans already left out); `salt` is the history's control-group
    salt (needed only when `policy.global_control` > 0).
    """
    ids = pd.Index(np.asarray(customer_ids, dtype=object).astype(str))
    n = len(ids)
    day = pd.Timestamp(plan_date)
    reason = np.full(n, "", dtype=object)
    cause_plan = np.full(n, -1, dtype=np.int64)
    until = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")

    def mark(mask: np.ndarray, label: str, plans: np.ndarray | None, ends: np.ndarray | None) -> None:
        fresh = mask & (reason == "")
        reason[fresh] = label
        if plans is not None:
            cause_plan[fresh] = plans[fresh]
        if ends is not None:
            until[fresh] = ends[fresh]

    if policy.global_control > 0:
        if salt is None:
            raise PolicyError("a global control group needs the history's salt")
        mark(
            global_control_members(ids.to_numpy(), salt, policy.global_control), "global_control", None, None
        )

    history = empty_contacts() if contacts is None or not len(contacts) else contacts
    history = history.assign(
        plan_date=pd.to_datetime(history["plan_date"]),
        customer_id=history["customer_id"].astype(str),
    )
    history = history[history["plan_date"] < day]
    position = ids.get_indexer(history["customer_id"])
    history = history.assign(customer=position)[position >= 0]
    age = (day - history["plan_date"]).dt.days.to_numpy()

    def latest(window: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Customers with a contact of `rows` younger than `window` days: mask, its latest plan, until."""
        recent = history[rows & (age < window)]
        mask = np.zeros(n, dtype=bool)
        plans = np.full(n, -1, dtype=np.int64)
        ends = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
        if len(recent):
            last = recent.sort_values(["plan_date", "plan_id"]).groupby("customer", sort=False).tail(1)
            where = last["customer"].to_numpy()
            mask[where] = True
            plans[where] = last["plan_id"].to_numpy()
            ends[where] = (last["plan_date"] + pd.Timedelta(days=window)).to_numpy()
        return mask, plans, ends

    held = history["holdout"].to_numpy(dtype=bool)
    treated = ~held & (history["action_id"].to_numpy() > 0)
    if policy.holdout_window_days:
        mark(*_named(latest(policy.holdout_window_days, held), "holdout_window"))
    if policy.cooldown_days:
        mark(*_named(latest(policy.cooldown_days, treated), "cooldown"))

    blocked = []
    for cap in policy.channel_caps:
        rows = treated & (history["channel"].to_numpy() == cap.channel) & (age < cap.window_days)
        recent = history[rows].sort_values(["customer", "plan_date", "plan_id"])
        if not len(recent):
            continue
        count = recent.groupby("customer")["plan_id"].transform("size").to_numpy()
        rank = recent.groupby("customer").cumcount().to_numpy()
        # The cap frees up when the oldest (count - M + 1) contacts have left the window: the contact of
        # rank count - M (0-based, oldest first) is the last of them to leave.
        last_out = recent[(count >= cap.max_contacts) & (rank == count - cap.max_contacts)]
        blocked.append(
            pd.DataFrame(
                {
                    "customer": last_out["customer"].to_numpy(),
                    "channel": cap.channel,
                    "plan_id": last_out["plan_id"].to_numpy(),
                    "until": (last_out["plan_date"] + pd.Timedelta(days=cap.window_days)).to_numpy(),
                }
            )
        )
    blocked_channels = (
        pd.concat(blocked, ignore_index=True)
        if blocked
        else pd.DataFrame({"customer": [], "channel": [], "plan_id": [], "until": []}).astype(
            {"customer": "int64", "channel": object, "plan_id": "int64", "until": "datetime64[s]"}
        )
    )

    excluded = reason != ""
    whole = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[excluded],
            "reason": reason[excluded],
            "plan_id": cause_plan[excluded],
            "until": until[excluded],
        }
    )
    capped = blocked_channels[~excluded[blocked_channels["customer"].to_numpy()]]
    partial = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[capped["customer"].to_numpy()],
            "reason": "channel_cap:" + capped["channel"].astype(str),
            "plan_id": capped["plan_id"].to_numpy(),
            "until": capped["until"].to_numpy(),
        }
    )
    table = pd.concat([whole, partial], ignore_index=True) if len(partial) else whole
    table["plan_id"] = table["plan_id"].astype("Int64").where(table["plan_id"] >= 0)
    table["until"] = pd.to_datetime(table["until"]).dt.strftime("%Y-%m-%d").fillna("")
    table = table.sort_values(["customer_id", "reason"], kind="stable").reset_index(drop=True)
    return Exclusions(
        plan_date=plan_date,
        policy=policy,
        reason=reason,
        blocked_channels=blocked_channels,
        table=table[EXCLUDED_COLUMNS],
    )


def _named(found: tuple[np.ndarray, np.ndarray, np.ndarray], label: str):
    mask, plans, ends = found
    return mask, label, plans, ends
