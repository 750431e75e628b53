"""Template helpers of the overview: parts drawn once per row in Python where the template language would resolve a
dozen variables per cell (the health matrix has fifty rows of ten past checks)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def health_strip(strip: list[dict[str, Any]]) -> SafeString:
    """A target's last checks, oldest first, as a strip of coloured cells, each titled with its status and time
    (in the dashboard's zone), and read out as one list."""
    if not strip:
        return format_html(
            '<span class="strip" role="img" aria-label="last 0 checks: "><span class="muted">{}</span></span>',
            "not checked yet",
        )
    label = f"last {len(strip)} check{'' if len(strip) == 1 else 's'}: " + ", ".join(str(s["status"]) for s in strip)
    cells = format_html_join(
        "",
        '<span class="strip-cell badge-{}" title="{} · {}"></span>',
        (
            (s["status"], s["status"], timezone.localtime(s["at"]).strftime("%Y-%m-%d %H:%M") if s["at"] else "")
            for s in strip
        ),
    )
    return format_html('<span class="strip" role="img" aria-label="{}">{}</span>', label, cells)
