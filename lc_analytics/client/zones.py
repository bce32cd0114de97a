"""Preflight of the zone (CDN) permissions: prove the token may read each zone's analytics.

Every zone is tried before anything is written, and one error names each zone the token
cannot read and the permission it needs (`Zone > Analytics > Read`); `Zone > Cache Rules >
Edit` is needed only to apply a cache rule, and is named by the refused write itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import AuthError
from .http import PERMISSIONS, CloudflareClient

_PROBE = ("query ($zoneTag: string!) { viewer { zones(filter: {zoneTag: $zoneTag}) "
          "{ zoneTag } } }")


def check_zone_access(client: CloudflareClient, zone_ids: Sequence[str]) -> None:
    """Raise one `AuthError` naming every zone of `zone_ids` the token cannot read."""
    refused = []
    for zone_id in zone_ids:
        try:
            client.graphql(_PROBE, {"zoneTag": zone_id}, permission="zone_analytics")
        except AuthError:
            refused.append(zone_id)
    if refused:
        raise AuthError(
            f"the API token cannot read the analytics of zone(s) {', '.join(refused)} "
            f"(CLOUDFLARE_ZONE_ID): it needs the '{PERMISSIONS['zone_analytics']}' "
            f"permission for each of them ('{PERMISSIONS['zone_cache_rules']}' too, only to "
            "apply a cache rule)", status=403, method="POST", url="/graphql")
