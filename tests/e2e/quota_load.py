#!/usr/bin/env python3
"""Exact quotas over HTTP, from outside: 200 concurrent issuances at a point.

Drives one or more utrust servers (several servers must share one database) with
`urllib` threads and `cryptography`-built CSRs, in two scenarios:

* ``limit``: a point with limit 25 (products without stock limits);
* ``quantity``: an unlimited point whose product quantity is 25.

For each, 200 applications are created and given CSRs (spread over the servers),
then 200 ``POST …/issue`` requests are fired at once, round-robin over the
servers. Exactly 25 must answer 201 and every other one 409
``{"error": "quota_exhausted"}``; afterwards ``GET /points/{id}`` must show issued
25, remaining 0, reserved 0 and every issued serial must be retrievable. With
``--sqlite-db`` or ``--psql-url`` the certificates table is recounted directly.

Prints a JSON summary; exits non-zero with a message on any failure.

Run with: python3 tests/e2e/quota_load.py --base-url http://127.0.0.1:8080 --token T
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sqlite3
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import (  # noqa: E402  (the shared client of the e2e tests)
    ETP_OIDS,
    KEP_OIDS,
    OWNERS,
    Api,
    Failure,
    check,
    csr_with_cryptography,
)

N = 200
QUOTA = 25


def setup(api: Api, suffix: str, scenario: str) -> dict:
    kep = api.create("/api/v1/products", {"code": f"KEP-{suffix}", "name": "КЭП",
                                          "quantity_accounting": False, "oids": KEP_OIDS})
    etp = api.create("/api/v1/products", {"code": f"ETP-{suffix}", "name": "ЭТП",
                                          "quantity_accounting": True, "oids": ETP_OIDS})
    org = api.create("/api/v1/organizations", {"name": f"Агент {suffix}"})
    if scenario == "limit":
        limit, quantity = QUOTA, -1
    else:
        limit, quantity = -1, QUOTA
    point = api.create("/api/v1/points", {
        "parent_id": org["id"], "name": f"Точка {suffix}", "email": "point@agent.example.ru",
        "limit": limit, "quantities": [{"product_id": etp["id"], "quantity": quantity}],
    })
    service = api.create("/api/v1/services", {
        "name": f"Нагрузка {suffix}", "products": [kep["id"], etp["id"]],
        "applicant_kinds": ["individual"], "points": [point["id"]],
    })
    return {"kep": kep["id"], "etp": etp["id"], "point": point["id"], "service": service["id"]}


def prepare(api: Api, cat: dict) -> str:
    """Creates one application and attaches a CSR; returns its id."""
    body = {"service_id": cat["service"], "point_id": cat["point"], "applicant_kind": "individual",
            "products": [cat["kep"], cat["etp"]], "owner": OWNERS["individual"]}
    app = api.create("/api/v1/applications", body)
    _, template = api.request("GET", f"/api/v1/applications/{app['id']}/request-template")
    pem, _ = csr_with_cryptography(template)
    _, after = api.request("POST", f"/api/v1/applications/{app['id']}/csr", pem,
                           content_type="application/x-pem-file")
    check(after["status"] == "ready_to_issue", f"application {app['id']}: {after['status']}")
    return app["id"]


def issue(api: Api, app_id: str):
    status, body = api.request("POST", f"/api/v1/applications/{app_id}/issue", expect=(201, 409))
    return status, body


def recount(args, point_id: str) -> int | None:
    if args.sqlite_db:
        with sqlite3.connect(f"file:{args.sqlite_db}?mode=ro", uri=True) as db:
            return db.execute("SELECT count(*) FROM certificates WHERE point_id = ?", (point_id,)).fetchone()[0]
    if args.psql_url:
        out = subprocess.run(
            ["psql", args.psql_url, "-X", "-t", "-A", "-c",
             f"SELECT count(*) FROM certificates WHERE point_id = '{point_id}'"],
            check=True, capture_output=True, text=True)
        return int(out.stdout.strip())
    return None


def scenario(apis: list[Api], args, name: str) -> dict:
    suffix = f"{name}-{uuid.uuid4().hex[:8]}"
    cat = setup(apis[0], suffix, name)
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(lambda i: prepare(apis[i % len(apis)], cat), range(N)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(lambda p: issue(apis[p[0] % len(apis)], p[1]), enumerate(ids)))
    ok = [b for s, b in results if s == 201]
    refused = [b for s, b in results if s == 409]
    for b in refused:
        check(b.get("error") == "quota_exhausted", f"409 with another error: {b}")
    check(len(ok) == QUOTA, f"{name}: {len(ok)} issuances succeeded, expected exactly {QUOTA}")
    check(len(refused) == N - QUOTA, f"{name}: {len(refused)} refused, expected {N - QUOTA}")
    serials = {b["serial"] for b in ok}
    check(len(serials) == QUOTA, f"{name}: duplicate serials among {len(ok)} certificates")
    for i, s in enumerate(sorted(serials)):
        _, cert = apis[i % len(apis)].request("GET", f"/api/v1/certificates/{s}")
        check(cert["status"] == "valid", f"certificate {s}: {cert['status']}")
    _, point = apis[-1].request("GET", f"/api/v1/points/{cat['point']}")
    if name == "limit":
        check((point["issued"], point["remaining"], point["reserved"]) == (QUOTA, 0, 0),
              f"point counters after the race: {point}")
    else:
        q = [q for q in point["quantities"] if q["product_id"] == cat["etp"]][0]
        check((q["issued"], q["remaining"], q["reserved"]) == (QUOTA, 0, 0),
              f"product quantity after the race: {q}")
        check(point["issued"] == QUOTA and point["remaining"] is None, f"point: {point}")
    counted = recount(args, cat["point"])
    if counted is not None:
        check(counted == QUOTA, f"{name}: the certificates table holds {counted} for the point")
    # Refused applications are back in ready_to_issue and retryable, with history.
    refused_ids = [i for (s, _), i in zip(results, ids) if s == 409]
    _, app = apis[0].request("GET", f"/api/v1/applications/{refused_ids[0]}")
    check(app["status"] == "ready_to_issue", f"refused application is {app['status']}")
    return {"issued": len(ok), "quota_exhausted": len(refused), "recount": counted,
            "point": {k: point[k] for k in ("limit", "issued", "remaining", "reserved")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", action="append", required=True, help="a server; repeat for several")
    parser.add_argument("--token", default=os.environ.get("UTRUST_ADMIN_TOKEN"))
    parser.add_argument("--sqlite-db", help="recount certificates in this SQLite file")
    parser.add_argument("--psql-url", help="recount certificates with psql on this URL")
    args = parser.parse_args()
    if not args.token:
        print("quota_load.py: --token or UTRUST_ADMIN_TOKEN is required", file=sys.stderr)
        return 2
    apis = [Api(u, args.token) for u in args.base_url]
    try:
        if len(apis) > 1:
            cas = {apis[i].request("GET", "/api/v1/ca/certificate")[1] for i in range(len(apis))}
            check(len(cas) == 1, "the servers do not share one CA certificate")
        summary = {"servers": len(apis), "limit": scenario(apis, args, "limit"),
                   "quantity": scenario(apis, args, "quantity")}
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
