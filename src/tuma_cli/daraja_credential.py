"""`tuma daraja credential`: the initiator's password, encrypted with Safaricom's public certificate
(tuma_cli.security_credential), stored as the Daraja secret's `security_credential`.

The password is read without echo (or from standard input with `--password-stdin`), encrypted on
this machine and never printed, logged or kept. Against `--local`, the certificate is the Daraja
simulator's own, whose Transaction Status decrypts with the matching private key.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TextIO

from tuma_cli import stack

EXIT_OK, EXIT_CONFIG = 0, 2


def certificate(found: stack.Stack, base_url: str, path: str | None) -> tuple[str, bytes]:
    """Which certificate, and its PEM: the given file, the simulator's, or Safaricom's for base_url."""
    from tuma_cli.security_credential import certificate_for

    if path:
        with open(path, "rb") as file:
            return path, file.read()
    if found.endpoint is not None:
        import httpx

        answer = httpx.get(base_url.rstrip("/") + "/_sandbox/certificate", timeout=10.0)
        answer.raise_for_status()
        return "the Daraja simulator's", str(answer.json()["certificate"]).encode()
    return certificate_for(base_url)


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("The initiator's password (not shown): ")


def store_credential(found: stack.Stack, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from tuma_cli.security_credential import encrypt_credential

    settings = found.daraja()
    secret = found.secret("daraja")
    initiator = args.initiator or str(secret.get("initiator_name") or "")
    if not initiator:
        print("configuration error: no initiator name: pass --initiator NAME", file=err)
        return EXIT_CONFIG
    name, pem = certificate(found, settings["base_url"], args.certificate)
    password = read_password(args)
    if not password:
        print("configuration error: the password is empty", file=err)
        return EXIT_CONFIG
    try:
        encrypted = encrypt_credential(password, pem)
    except ValueError as exc:
        print(f"configuration error: {name} is not a certificate Tuma can use: {exc}", file=err)
        return EXIT_CONFIG
    found.put_secret("daraja", secret | {"initiator_name": initiator, "security_credential": encrypted})
    done = {"initiator_name": initiator, "certificate": name, "stored": True}
    if args.json:
        print(json.dumps(done), file=out)
    else:
        print(
            f"Stored the security credential for initiator {initiator}, encrypted with {name} "
            "certificate. Check it with: tuma daraja status <a receipt number>",
            file=out,
        )
    return EXIT_OK
