"""The categories the catalog files apps under, so the apps page and ``GET /api/v1/apps``
can filter by them. One word per kind of tool a workflow touches; an app may be in several."""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
    "accounting",
    "ai",
    "analytics",
    "billing",
    "calendar",
    "chat",
    "cms",
    "communication",
    "crm",
    "data-warehouse",
    "database",
    "demo",
    "design",
    "developer-tools",
    "devops",
    "documents",
    "e-signature",
    "ecommerce",
    "email",
    "events",
    "finance",
    "forms",
    "hr",
    "incident-management",
    "infrastructure",
    "marketing",
    "monitoring",
    "other",
    "payments",
    "productivity",
    "project-management",
    "recruiting",
    "sales",
    "scheduling",
    "security",
    "shipping",
    "sms",
    "social-media",
    "spreadsheets",
    "storage",
    "support",
    "telephony",
    "time-tracking",
    "video",
    "websites",
]

CATEGORIES: tuple[str, ...] = get_args(Category)
