"""Rulesets API, phase `http_request_cache_settings` (reference 8.1): a zone's cache rules.

`GET /zones/{zone_id}/rulesets/phases/http_request_cache_settings/entrypoint` serves the
entrypoint ruleset as configured; `PUT` replaces its rules (a new version), which the simulated
zone applies from the next hour on. Reading needs `zone:analytics:read` (the
permission lc-analytics asks for to read a zone); writing needs `zone:cache_rules:edit`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..emulator import Emulator, Problem, Request, envelope, register, rfc3339, route
from ..zone import PHASE

_PATH = rf"/zones/(?P<zone>[0-9a-f]{{32}})/rulesets/phases/{PHASE}/entrypoint"
_ACTIONS = frozenset({"set_cache_settings"})
_TTL_MODES = frozenset({"respect_origin", "override_origin", "bypass_by_default",
                        "bypass"})


def _zone(em: Emulator, request: Request) -> Any:
    zone = em.account.zone
    if request.params["zone"] != zone.zone_id:
        raise Problem(404, 1001, "Could not route to the zone: unknown zone identifier")
    return zone


def _ruleset_json(em: Emulator, zone: Any) -> dict[str, Any]:
    since, ruleset = zone.rules_history[-1]  # configured now (traffic follows next hour)
    since = ruleset.get("last_updated", since)
    ident = hashlib.sha256(f"{zone.zone_id}-{PHASE}".encode()).hexdigest()[:32]
    return {"id": ident, "name": "default", "description": "", "kind": "zone",
            "phase": PHASE, "version": str(ruleset["version"]),
            "last_updated": rfc3339(since),
            "rules": [{**rule, "version": str(ruleset["version"]),
                       "last_updated": rfc3339(since)} for rule in ruleset["rules"]]}


def _get(em: Emulator, request: Request) -> tuple[int, dict]:
    zone = _zone(em, request)
    return 200, envelope(_ruleset_json(em, zone))


def _check_rule(rule: Any, index: int) -> dict[str, Any]:
    where = f"rules[{index}]"
    if not isinstance(rule, dict):
        raise Problem(400, 20021, f"{where} must be an object")
    if rule.get("action") not in _ACTIONS:
        raise Problem(400, 20021, f"{where}.action must be one of {sorted(_ACTIONS)} in "
                                  f"phase {PHASE}")
    if not isinstance(rule.get("expression"), str) or not rule["expression"].strip():
        raise Problem(400, 20021, f"{where}.expression is required")
    params = rule.get("action_parameters")
    if not isinstance(params, dict) or not isinstance(params.get("cache"), bool):
        raise Problem(400, 20021, f"{where}.action_parameters.cache must be true or false")
    for ttl in ("edge_ttl", "browser_ttl"):
        value = params.get(ttl)
        if value is None:
            continue
        if not isinstance(value, dict) or value.get("mode") not in _TTL_MODES:
            raise Problem(400, 20021, f"{where}.action_parameters.{ttl}.mode must be one of "
                                      f"{sorted(_TTL_MODES)}")
        if value["mode"] == "override_origin" and not (
                isinstance(value.get("default"), int) and value["default"] > 0):
            raise Problem(400, 20021, f"{where}.action_parameters.{ttl}.default must be a "
                                      "positive number of seconds")
    ident = rule.get("id") or hashlib.sha256(
        f"{rule['expression']}-{index}".encode()).hexdigest()[:32]
    return {"id": ident, "description": str(rule.get("description", "")),
            "expression": rule["expression"], "action": rule["action"],
            "enabled": bool(rule.get("enabled", True)), "action_parameters": params}


def _put(em: Emulator, request: Request) -> tuple[int, dict]:
    zone = _zone(em, request)
    body = request.json_body()
    rules = body.get("rules")
    if not isinstance(rules, list):
        raise Problem(400, 20021, "rules must be a list")
    checked = [_check_rule(rule, i) for i, rule in enumerate(rules)]
    zone.put_rules(checked, em.account.now)
    return 200, envelope(_ruleset_json(em, zone))


register(route(_PATH, GET=(_get, "zone:analytics:read"), PUT=(_put, "zone:cache_rules:edit")))
