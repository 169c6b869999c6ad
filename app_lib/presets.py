"""The presets: complete sets of settings with their action catalog, written for a 250-customer week."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer import PlanSettings

DEFAULT_PRESET = "Default weekly plan"
REPORT_PRESET = "Published report (2025-11-05)"
CUSTOM_PRESET = "Custom"
DEFAULT_CATALOG_FILE = "actions.csv"
REPORT_CATALOG_FILE = "catalog_report_2025.csv"


@dataclass(frozen=True)
class Preset:
    settings: PlanSettings
    catalog_file: str  # a catalog CSV in data/
    catalog_label: str


PRESETS = {
    # The product defaults: 9 actions including retention calls, policies rounded up.
    DEFAULT_PRESET: Preset(PlanSettings(), DEFAULT_CATALOG_FILE, "default catalog (data/actions.csv)"),
    # The 2025-11-05 report's baseline: its 8-action catalog (no calls; in-app and push offers only for
    # CLV in (300, 1000]), $150, 120 emails, 100 push/in-app, 60/40/50/15%, threshold 0.7, policy counts
    # rounded down.
    REPORT_PRESET: Preset(
        PlanSettings(
            budget=150.0,
            email_capacity=120,
            push_capacity=100,
            call_capacity=None,
            min_high_risk=0.60,
            min_premium=0.40,
            max_saturation=0.50,
            min_segment=0.15,
            high_risk_threshold=0.7,
            coverage_rounding="floor",
        ),
        REPORT_CATALOG_FILE,
        "report catalog (data/catalog_report_2025.csv)",
    ),
}
PRESET_OPTIONS = (DEFAULT_PRESET, REPORT_PRESET, CUSTOM_PRESET)  # the sidebar's selector
