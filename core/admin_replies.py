"""Admin results as chat replies: catalog messages (rendered in the reader's language by adapters)
and, for ``/stats``, a chart.

Every reply is one :class:`core.actions.SendText` of one message a line (:func:`lines`), plus
the chart for ``/stats``; a refused block of an owner is a private text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.actions import Action, OutputImage, SendChart, SendText, Text
from core.admin_results import (
    AdminResult,
    AuditPage,
    BlockChanged,
    BlockRefused,
    CommunityLimits,
    CounterUse,
    CreditsChanged,
    DefaultLimits,
    LimitChanged,
    Stats,
    TargetLimits,
    UsageReset,
)
from core.charts import HEIGHT, WIDTH, render_daily_chart
from core.events import Origin
from core.quotas.limits import BlockScope, LimitKind
from core.quotas.rules import QuotaPolicy, format_time
from core.storage.protocol import AuditEntry

OVERRIDES_SHOWN = 15


def lines(texts: Sequence[Text]) -> Text:
    """Several catalog messages as one, a line each (rendered in the reader's language)."""
    if not texts:
        return Text("admin_empty")
    joined = texts[-1]
    for text in reversed(texts[:-1]):
        joined = Text("admin_lines", {"first": text, "rest": joined})
    return joined


async def reply(origin: Origin, result: AdminResult, policy: QuotaPolicy) -> list[Action]:
    """What the chat shows for ``result``."""
    period = Text(f"period_{policy.period}")
    match result:
        case BlockRefused(target=target):
            return [SendText(origin, Text("block_owner_refused", {"target": target.shown}), private=True)]
        case Stats():
            return [SendText(origin, lines(_stats(result, period))), await _chart(origin, result)]
    return [SendText(origin, lines(_texts(result, policy, period)))]


def _texts(result: AdminResult, policy: QuotaPolicy, period: Text) -> list[Text]:
    """The lines of every reply but a refusal and the stats."""
    match result:
        case TargetLimits(target=target, own=own):
            params = {
                "target": target.shown,
                "limit": own.limit,
                "extra": _extra(own.usage.bonus),
                "used": own.usage.used,
                "left": own.left,
                "period": period,
            }
            texts = [Text("limits_member" if result.in_community else "limits_user", params)]
            if result.blocked is not None:
                texts.append(Text(f"limits_blocked_{result.blocked}", {"target": target.shown}))
            return texts
        case DefaultLimits():
            reset = format_time(result.reset, policy.timezone)
            params = {
                "user": result.user_limit,
                "community": result.community_limit,
                "period": period,
                "reset": reset,
            }
            return [Text("limits_defaults", params), _global_line(result.everyone, period)]
        case CommunityLimits():
            return _community_limits(result, policy, period)
        case LimitChanged():
            return [_limit_changed(result, period)]
        case CreditsChanged(target=target, credits=credits, taking=taking):
            params = {"target": target.shown, "credits": credits, "left": result.own.left, "period": period}
            return [Text("credits_taken" if taking else "credits_granted", params)]
        case UsageReset(target=target, own=own) if target is not None and own is not None:
            return [Text("usage_reset", {"target": target.shown, "left": own.left, "period": period})]
        case UsageReset(what=what):
            return [Text(f"usage_reset_{what}", {"period": period})]
        case BlockChanged(target=target, blocking=blocking, changed=changed):
            if changed:
                key = f"user_{'blocked' if blocking else 'unblocked'}_{result.where}"
            else:
                key = "user_already_blocked" if blocking else "user_not_blocked"
            return [Text(key, {"target": target.shown})]
        case AuditPage(entries=entries, everything=everything):
            if not entries:
                return [Text("audit_empty")]
            texts = [Text("audit_header", {"count": len(entries)})]
            for entry in entries:
                line = audit_line(entry, policy.timezone)
                if everything and entry.community:
                    line = Text("audit_in", {"where": entry.community, "line": line})
                texts.append(line)
            return texts
    raise AssertionError(f"no chat reply for {result!r}")  # pragma: no cover - handled in reply()


def _community_limits(result: CommunityLimits, policy: QuotaPolicy, period: Text) -> list[Text]:
    params = {
        "pool": result.pool.limit,
        "pool_used": result.pool.used,
        "pool_left": result.pool.left,
        "members": result.members_limit,
        "period": period,
        "reset": format_time(result.reset, policy.timezone),
    }
    texts = [Text("limits_community", params)]
    singles = result.singles
    for o in singles[:OVERRIDES_SHOWN]:
        name = o.label or o.key.rpartition("/")[2]
        texts.append(Text("limits_override_line", {"name": name, "limit": o.limit}))
    if len(singles) > OVERRIDES_SHOWN:
        texts.append(Text("limits_overrides_more", {"count": len(singles) - OVERRIDES_SHOWN}))
    if result.everyone is not None:
        texts.append(_global_line(result.everyone, period))
    return texts


def _global_line(use: CounterUse, period: Text) -> Text:
    if use.limit is None:
        return Text("limits_global_uncapped", {"used": use.used, "period": period})
    return Text("limits_global", {"used": use.used, "limit": use.limit, "left": use.left, "period": period})


def _limit_changed(result: LimitChanged, period: Text) -> Text:
    who = result.target.shown if result.target is not None else ""
    what = Text(f"limit_what_{result.what}", {"target": who})
    default: int | Text = result.default if result.default is not None else Text("limit_unlimited")
    if result.limit is None:
        return Text("limit_cleared", {"what": what, "limit": default, "period": period})
    was: int | Text = (
        result.previous if result.previous is not None else Text("limit_default", {"limit": default})
    )
    return Text("limit_set", {"what": what, "limit": result.limit, "previous": was, "period": period})


def _stats(result: Stats, period: Text) -> list[Text]:
    report = result.report
    totals = {"period": period, "edits": report.edits, "credits": report.credits, "failed": report.failed}
    texts = [Text("stats_summary" if result.pool is not None else "stats_summary_global", totals)]
    if result.pool is not None:
        pool = result.pool
        texts.append(Text("stats_pool", {"used": pool.used, "limit": pool.limit or 0, "left": pool.left}))
    if result.cost is not None:
        texts.append(Text("stats_cost", {"cost": f"{result.cost:.2f}"}))
    if report.top:
        texts.append(Text("stats_top_header"))
        for rank, member in enumerate(report.top, 1):
            name = member.name or member.user_id
            params = {"rank": rank, "name": name, "credits": member.credits, "edits": member.edits}
            texts.append(Text("stats_top_line", params))
    else:
        texts.append(Text("stats_no_edits", {"period": period}))
    return texts


async def _chart(origin: Origin, result: Stats) -> SendChart:
    """Edits per day over the chart's days, today's bar highlighted (drawn in a worker thread)."""
    days, per_day = result.days, result.report.per_day
    png = await render_daily_chart(per_day, today=days[-1])
    total = sum(count for _, count in per_day)
    params = {"start": days[0].isoformat(), "end": days[-1].isoformat(), "total": total}
    chart = OutputImage(png, f"stats-{days[-1]:%Y%m%d}.png", "image/png", WIDTH, HEIGHT)
    return SendChart(origin, chart, Text("stats_chart_caption", params))


def audit_line(entry: AuditEntry, timezone: str) -> Text:
    """One audit entry as a catalog message (``audit_<action>[_<variant>]``)."""
    details = entry.details
    params: dict[str, Any] = {
        "when": format_time(entry.at, timezone) if entry.at else "",
        "actor": entry.actor_name or entry.actor,
        "target": entry.target_name or (entry.target or "").partition(":")[2] or entry.target or "",
        "credits": details.get("credits", ""),
        "action": entry.action,
    }
    match entry.action:
        case "set_limit":
            kind = str(details.get("kind", ""))
            params["what"] = Text(f"audit_what_{kind}", {"target": params["target"]})
            if details.get("limit") is None:
                return Text("audit_set_limit_off", params)
            return Text("audit_set_limit", {**params, "limit": details["limit"]})
        case "grant" | "take":
            return Text(f"audit_{entry.action}", params)
        case "reset_usage":
            scope = details.get("scope")
            if scope in (LimitKind.COMMUNITY, LimitKind.GLOBAL):
                return Text(f"audit_reset_usage_{scope}", params)
            return Text("audit_reset_usage", params)
        case "block" | "unblock":
            suffix = "_everywhere" if details.get("where") == BlockScope.EVERYWHERE else ""
            return Text(f"audit_{entry.action}{suffix}", params)
    return Text("audit_other", params)


def _extra(bonus: int) -> Text | str:
    if bonus > 0:
        return Text("limits_extra_granted", {"credits": bonus})
    if bonus < 0:
        return Text("limits_extra_taken", {"credits": -bonus})
    return ""
