#!/usr/bin/env python3
"""External client of the utrust HTTP API (DESIGN §7), over real HTTP.

It drives the core flow the way a third-party integration would: creates the
catalog, the agent network and a service, then for every applicant kind an
application; reads ``/request-template``; builds the PKCS#10 request itself
(with ``cryptography``, honouring each attribute's string type and the requested
extensions, and a second time with the ``openssl req`` command line); posts it;
issues; downloads the CA certificate and the certificate; and checks the
certificate with ``cryptography`` (signature by the CA key, subject = template
with the template's string types, extensions, public key = the request's) and
with ``openssl verify -CAfile``.

Usage:
    client.py --base-url http://127.0.0.1:8080 --token TOKEN
    (or UTRUST_BASE_URL / UTRUST_ADMIN_TOKEN in the environment)

Exits 0 and prints a JSON summary on success; exits nonzero with a message on
the first failure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import ExtensionOID, NameOID
except ImportError as exc:  # pragma: no cover - environment check
    sys.stderr.write(
        "client.py: the Python package 'cryptography' is required "
        f"(pip install cryptography): {exc}\n"
    )
    sys.exit(3)


class Failure(Exception):
    """A check failed."""


STRING_TYPES = {
    "utf8": _ASN1Type.UTF8String,
    "printable": _ASN1Type.PrintableString,
    "numeric": _ASN1Type.NumericString,
    "ia5": _ASN1Type.IA5String,
}

KINDS = ("individual", "sole_proprietor", "legal_entity")

KEP_OIDS = {
    "common": ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", "1.2.643.2.2.34.6"],
    "legal_entity": ["1.2.643.100.2.2"],
    "individual": ["1.2.643.100.2.1"],
    "sole_proprietor": ["1.2.643.100.2.1"],
}
ETP_OIDS = {
    "common": ["1.2.643.6.3"],
    "legal_entity": ["1.2.643.6.3.1.2.1"],
    "individual": ["1.2.643.6.3.1.2.2"],
    "sole_proprietor": ["1.2.643.6.3.1.2.3"],
}

PASSPORT = {"series": "4510", "number": "123456", "issued_on": "2015-06-01", "issuer_code": "770-001"}
ADDRESS = {
    "region_code": "77",
    "region_name": "г. Москва",
    "locality": "Москва",
    "street": "ул. Тверская, д. 1/2",
    "kladr": "7700000000000",
}
OWNERS = {
    "individual": {
        "surname": "Иванов", "given_name": "Иван", "patronymic": "Иванович",
        "snils": "112-233-445 95", "inn": "500100732259", "email": "ivanov@example.ru",
        "birth_date": "1985-04-12", "passport": PASSPORT,
    },
    "sole_proprietor": {
        "surname": "Петров", "given_name": "Пётр", "patronymic": "Петрович",
        "snils": "64270954807", "inn": "561100409545", "email": "petrov@example.ru",
        "passport": PASSPORT,
    },
    "legal_entity": {
        "surname": "Сидорова", "given_name": "Анна", "patronymic": "Сергеевна",
        "snils": "123-456-789 64", "inn": "773612345650",
        "email": "sidorova@romashka.example.ru", "position": "Генеральный директор",
    },
}
ORGANIZATIONS = {
    "individual": None,
    "sole_proprietor": {"ogrnip": "304770200100005"},
    "legal_entity": {"name": "ООО «Ромашка» + партнёры", "inn": "7707083893", "kpp": "770701001",
                     "ogrn": "1027700132195"},
}

# RFC 5280 key usage names -> cryptography.x509.KeyUsage arguments.
KEY_USAGE_ARGS = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
}


class Api:
    """A tiny JSON client on urllib."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.token = token

    def request(self, method, path, body=None, content_type=None, auth=True, expect=(200,)):
        data = None
        headers = {"Accept": "application/json"}
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif body is not None:
            data = body
            headers["Content-Type"] = content_type or "application/octet-stream"
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as e:
            status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
        except urllib.error.URLError as e:
            raise Failure(f"{method} {path}: cannot connect to {self.base}: {e.reason}") from e
        if status not in expect:
            raise Failure(f"{method} {path}: expected HTTP {expect}, got {status}: {raw[:2000]!r}")
        if ctype.startswith("application/json"):
            return status, json.loads(raw)
        return status, raw

    def create(self, path, body):
        _, v = self.request("POST", path, body, expect=(201,))
        if not isinstance(v, dict) or not v.get("id"):
            raise Failure(f"POST {path}: created object without an id: {v}")
        return v


def check(cond, message):
    if not cond:
        raise Failure(message)


# --- building requests ---------------------------------------------------------


def new_key(algorithm):
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ecdsa-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise Failure(f"key algorithm {algorithm!r} is not supported by this client")


def sign_hash(algorithm):
    if algorithm == "ed25519":
        return None
    if algorithm == "ecdsa-p384":
        return hashes.SHA384()
    return hashes.SHA256()


def name_from_template(template):
    attrs = []
    for a in template["subject"]:
        t = a["type"]
        if t not in STRING_TYPES:
            raise Failure(f"template attribute {a['oid']} has unknown type {t!r}")
        attrs.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(x509.ObjectIdentifier(a["oid"]), a["value"], STRING_TYPES[t])]
            )
        )
    return x509.Name(attrs)


def key_usage(names):
    args = {v: False for v in KEY_USAGE_ARGS.values()}
    for n in names:
        if n not in KEY_USAGE_ARGS:
            raise Failure(f"template key usage {n!r} is not an RFC 5280 name")
        args[KEY_USAGE_ARGS[n]] = True
    return x509.KeyUsage(encipher_only=False, decipher_only=False, **args)


def csr_with_cryptography(template):
    key = new_key(template["key_algorithm"])
    ext = template["extensions"]
    builder = x509.CertificateSigningRequestBuilder().subject_name(name_from_template(template))
    if ext["key_usage"]:
        builder = builder.add_extension(key_usage(ext["key_usage"]), critical=True)
    if ext["extended_key_usage"]:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in ext["extended_key_usage"]]),
            critical=False,
        )
    if ext["certificate_policies"]:
        builder = builder.add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in ext["certificate_policies"]]
            ),
            critical=False,
        )
    csr = builder.sign(key, sign_hash(template["key_algorithm"]))
    check(csr.is_signature_valid, "cryptography built a CSR whose signature does not verify")
    return csr.public_bytes(serialization.Encoding.PEM), key.public_key()


def subj_escape(value):
    out = []
    for ch in value:
        if ch in "\\/+=":
            out.append("\\")
        out.append(ch)
    return "".join(out)


def openssl_config(extra_oids):
    """A minimal `openssl req` configuration. OpenSSL silently skips subject
    attributes whose OID it does not know (3.0 does not know INNLE,
    1.2.643.100.4), so such OIDs are declared in an oid_section."""
    lines = []
    if extra_oids:
        lines += ["oid_section = utrust_oids", "[ utrust_oids ]"]
        lines += [f"utrustOid{i} = {oid}" for i, oid in enumerate(extra_oids)]
    lines += ["[ req ]", "distinguished_name = dn", "string_mask = utf8only", "prompt = no", "[ dn ]", ""]
    return "\n".join(lines)


OPENSSL_DECLARED_OIDS: set = set()


def csr_with_openssl(template, workdir, tag):
    alg = template["key_algorithm"]
    if alg == "ecdsa-p256":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    elif alg == "ecdsa-p384":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]
    elif alg == "ed25519":
        newkey = ["-newkey", "ed25519"]
    else:
        raise Failure(f"openssl variant: key algorithm {alg!r} not handled")
    cfg = os.path.join(workdir, "req.cnf")
    subj = "".join(f"/{a['oid']}={subj_escape(a['value'])}" for a in template["subject"])
    ext = template["extensions"]
    addext = []
    if ext["key_usage"]:
        addext += ["-addext", "keyUsage=critical," + ",".join(ext["key_usage"])]
    if ext["extended_key_usage"]:
        addext += ["-addext", "extendedKeyUsage=" + ",".join(ext["extended_key_usage"])]
    if ext["certificate_policies"]:
        addext += ["-addext", "certificatePolicies=" + ",".join(ext["certificate_policies"])]
    key_path = os.path.join(workdir, f"{tag}.key")
    csr_path = os.path.join(workdir, f"{tag}.csr")
    cmd = ["openssl", "req", "-new", "-config", cfg, *newkey, "-nodes", "-utf8", "-subj", subj,
           *addext, "-keyout", key_path, "-out", csr_path]
    if alg != "ed25519":
        cmd.insert(3, "-sha256" if alg == "ecdsa-p256" else "-sha384")
    declared = []
    for _ in range(2):
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(openssl_config(declared))
        out = run(cmd)
        skipped = re.findall(r'Skipping unknown subject name attribute "([^"]+)"', out)
        if not skipped:
            break
        if declared:
            raise Failure(f"openssl req still skips subject attributes {skipped} after declaring them")
        declared = skipped
    OPENSSL_DECLARED_OIDS.update(declared)
    run(["openssl", "req", "-verify", "-noout", "-in", csr_path])
    with open(csr_path, "rb") as f:
        pem = f.read()
    csr = x509.load_pem_x509_csr(pem)
    return pem, csr.public_key()


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise Failure(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout + p.stderr


# --- checking certificates -----------------------------------------------------


def public_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_issued_by(cert, ca):
    pub = ca.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(pub, ed25519.Ed25519PublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes)
    elif isinstance(pub, rsa.RSAPublicKey):
        pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    else:
        raise Failure(f"CA key type {type(pub).__name__} not handled")
    check(cert.issuer == ca.subject, f"issuer {cert.issuer.rfc4514_string()} is not the CA {ca.subject.rfc4514_string()}")


def check_certificate(cert, ca, template, request_public_key, label):
    try:
        verify_issued_by(cert, ca)
    except Exception as e:  # cryptography raises InvalidSignature
        raise Failure(f"{label}: the certificate's signature does not verify with the CA key: {e!r}") from e
    got = [
        (a.oid.dotted_string, a.value, a._type)
        for rdn in cert.subject.rdns
        for a in rdn
    ]
    want = [(a["oid"], a["value"], STRING_TYPES[a["type"]]) for a in template["subject"]]
    check(sorted(got, key=str) == sorted(want, key=str),
          f"{label}: certificate subject {got} differs from the template {want}")
    check(public_der(cert.public_key()) == public_der(request_public_key),
          f"{label}: the certificate's public key is not the request's")
    now = datetime.datetime.now(datetime.timezone.utc)
    check(cert.not_valid_before_utc <= now <= cert.not_valid_after_utc,
          f"{label}: not valid now ({cert.not_valid_before_utc} .. {cert.not_valid_after_utc})")
    ext = template["extensions"]
    eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    check(sorted(o.dotted_string for o in eku) == sorted(ext["extended_key_usage"]),
          f"{label}: EKU {[o.dotted_string for o in eku]} != template {ext['extended_key_usage']}")
    pol = cert.extensions.get_extension_for_oid(ExtensionOID.CERTIFICATE_POLICIES).value
    check(sorted(p.policy_identifier.dotted_string for p in pol) == sorted(ext["certificate_policies"]),
          f"{label}: certificate policies differ from the template")
    ku_ext = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    check(ku_ext.critical, f"{label}: keyUsage is not critical")
    for name in ext["key_usage"]:
        check(getattr(ku_ext.value, KEY_USAGE_ARGS[name]), f"{label}: key usage {name} missing")
    bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    check(not bc.ca, f"{label}: an end-entity certificate has cA=TRUE")


# --- the flow ------------------------------------------------------------------


def setup(api, suffix, limit):
    kep = api.create("/api/v1/products", {"code": f"KEP-{suffix}", "name": "КЭП",
                                          "quantity_accounting": False, "oids": KEP_OIDS})
    etp = api.create("/api/v1/products", {"code": f"ETP-{suffix}", "name": "ЭТП",
                                          "quantity_accounting": True, "oids": ETP_OIDS})
    org = api.create("/api/v1/organizations", {"name": f"ООО «Агент УЦ» {suffix}", "inn": "7802668116"})
    branch = api.create("/api/v1/branches", {"organization_id": org["id"], "name": "Московский филиал"})
    point = api.create("/api/v1/points", {
        "parent_id": branch["id"], "name": "Точка «Тверская»", "email": "tverskaya@agent.example.ru",
        "region": "77", "limit": limit, "quantities": [{"product_id": etp["id"], "quantity": 100}],
    })
    service = api.create("/api/v1/services", {
        "name": f"Выпуск КЭП {suffix}", "products": [kep["id"], etp["id"]],
        "applicant_kinds": list(KINDS), "points": [point["id"]],
        "approval_required": False, "smev_checks": [],
    })
    return {"kep": kep["id"], "etp": etp["id"], "point": point["id"], "service": service["id"]}


def application_body(cat, kind):
    body = {"service_id": cat["service"], "point_id": cat["point"], "applicant_kind": kind,
            "products": [cat["kep"], cat["etp"]], "owner": OWNERS[kind], "address": ADDRESS}
    if ORGANIZATIONS[kind] is not None:
        body["organization"] = ORGANIZATIONS[kind]
    return body


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("UTRUST_BASE_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("UTRUST_ADMIN_TOKEN"))
    parser.add_argument("--no-openssl", action="store_true", help="skip the openssl variant and checks")
    args = parser.parse_args()
    if not args.token:
        raise Failure("no token: pass --token or set UTRUST_ADMIN_TOKEN")
    use_openssl = not args.no_openssl
    if use_openssl and shutil.which("openssl") is None:
        raise Failure("openssl is not on PATH (use --no-openssl to skip the openssl checks)")

    api = Api(args.base_url, args.token)
    _, health = api.request("GET", "/healthz", auth=False)
    check(health.get("status") == "ok", f"/healthz: {health}")
    status, err = api.request("GET", "/api/v1/me", auth=False, expect=(401,))
    check(isinstance(err, dict) and err.get("error") == "unauthorized", f"401 body: {err!r}")

    suffix = uuid.uuid4().hex[:8]
    variants = ["cryptography"] + (["openssl"] if use_openssl else [])
    limit = 10
    cat = setup(api, suffix, limit)

    _, ca_pem = api.request("GET", "/api/v1/ca/certificate")
    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_bc = ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    check(ca_bc.ca, "the CA certificate is not a CA (basicConstraints cA=FALSE)")

    summary = {"base_url": api.base, "ca_subject": ca.subject.rfc4514_string(), "issued": [], "refusals": []}
    with tempfile.TemporaryDirectory(prefix="utrust-e2e-") as workdir:
        ca_path = os.path.join(workdir, "ca.pem")
        with open(ca_path, "wb") as f:
            f.write(ca_pem)
        for kind in KINDS:
            for variant in variants:
                label = f"{kind}/{variant}"
                app = api.create("/api/v1/applications", application_body(cat, kind))
                check(app["status"] == "awaiting_csr", f"{label}: new application is {app['status']}")
                app_id = app["id"]
                _, template = api.request("GET", f"/api/v1/applications/{app_id}/request-template")
                check(isinstance(template, dict) and template.get("subject"), f"{label}: template {template!r}")

                if variant == "cryptography":
                    csr_pem, req_pub = csr_with_cryptography(template)
                else:
                    csr_pem, req_pub = csr_with_openssl(template, workdir, f"{kind}-{variant}")

                if kind == "individual" and variant == "cryptography":
                    # A request whose subject differs from the template is refused
                    # over the wire with its own code, and changes nothing.
                    bad = json.loads(json.dumps(template))
                    for a in bad["subject"]:
                        if a["oid"] == "2.5.4.4":
                            a["value"] += "а"
                    bad_pem, _ = csr_with_cryptography(bad)
                    _, e = api.request("POST", f"/api/v1/applications/{app_id}/csr", bad_pem,
                                       "application/x-pem-file", expect=(422,))
                    check(e.get("error") == "csr_subject_mismatch", f"{label}: tampered CSR: {e}")
                    _, again = api.request("GET", f"/api/v1/applications/{app_id}")
                    check(again["status"] == "awaiting_csr" and not again["csr_attached"],
                          f"{label}: a refused CSR changed the application: {again}")
                    summary["refusals"].append({"case": "subject_mismatch", "error": e["error"]})

                _, after = api.request("POST", f"/api/v1/applications/{app_id}/csr", csr_pem,
                                       "application/x-pem-file")
                check(after["status"] == "ready_to_issue", f"{label}: after CSR: {after['status']}")
                _, issued = api.request("POST", f"/api/v1/applications/{app_id}/issue", expect=(201,))
                serial = issued["serial"]
                _, cert_pem = api.request("GET", f"/api/v1/applications/{app_id}/certificate")
                check(cert_pem.decode() == issued["certificate"],
                      f"{label}: GET certificate differs from the issued one")
                cert = x509.load_pem_x509_certificate(cert_pem)
                check(format(cert.serial_number, "x") == serial.lower().lstrip("0"),
                      f"{label}: certificate serial {cert.serial_number:x} != API serial {serial}")
                check_certificate(cert, ca, template, req_pub, label)
                entry = {"kind": kind, "csr_by": variant, "application_id": app_id, "serial": serial,
                         "subject": cert.subject.rfc4514_string(), "cryptography_verify": "OK"}
                if use_openssl:
                    cert_path = os.path.join(workdir, f"{kind}-{variant}.pem")
                    with open(cert_path, "wb") as f:
                        f.write(cert_pem)
                    out = run(["openssl", "verify", "-CAfile", ca_path, cert_path])
                    check(out.strip().endswith(": OK"), f"{label}: openssl verify: {out}")
                    entry["openssl_verify"] = "OK"
                summary["issued"].append(entry)

    _, point = api.request("GET", f"/api/v1/points/{cat['point']}")
    n = len(summary["issued"])
    check(point["issued"] == n and point["remaining"] == limit - n,
          f"point counters: issued {point['issued']} remaining {point['remaining']}, expected {n} and {limit - n}")
    if OPENSSL_DECLARED_OIDS:
        summary["openssl_declared_oids"] = sorted(OPENSSL_DECLARED_OIDS)
    summary["point"] = {"limit": point["limit"], "issued": point["issued"], "remaining": point["remaining"]}
    print(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        sys.stderr.write(f"client.py: FAILED: {e}\n")
        sys.exit(1)
