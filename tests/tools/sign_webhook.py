#!/usr/bin/env python3
"""Stripe webhook signatures, computed independently of payforms.

Stripe signs `"{timestamp}.{raw body}"` with HMAC-SHA256 under the endpoint
secret and sends `Stripe-Signature: t=<timestamp>,v1=<hex digest>`. The Rust
test harness shells out to this script so that a bug in payforms' own signing
code cannot hide behind a matching bug in the tests.

  sign_webhook.py sign --secret whsec_x --timestamp 1700000000 < payload.json
      prints  t=1700000000,v1=<hex>
  sign_webhook.py verify --secret whsec_x --header 't=..,v1=..' [--tolerance 300] < payload.json
      exits 0 when one v1 signature matches and the timestamp is fresh, 1 otherwise
The payload is read from stdin as raw bytes (no newline is added or stripped).
"""
import argparse
import hashlib
import hmac
import sys
import time


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header(payload: bytes, secret: str, timestamp: int) -> str:
    return f"t={timestamp},v1={signature(payload, secret, timestamp)}"


def verify(payload: bytes, secret: str, stripe_signature: str, tolerance: int, now: int) -> bool:
    timestamp = None
    candidates = []
    for part in stripe_signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = signature(payload, secret, timestamp)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sign_cmd = sub.add_parser("sign", help="print a Stripe-Signature header for stdin")
    sign_cmd.add_argument("--secret", required=True)
    sign_cmd.add_argument("--timestamp", type=int, default=None, help="unix seconds (default: now)")
    verify_cmd = sub.add_parser("verify", help="check a Stripe-Signature header against stdin")
    verify_cmd.add_argument("--secret", required=True)
    verify_cmd.add_argument("--header", required=True)
    verify_cmd.add_argument("--tolerance", type=int, default=300)
    verify_cmd.add_argument("--now", type=int, default=None, help="unix seconds (default: now)")
    args = parser.parse_args()

    payload = sys.stdin.buffer.read()
    if args.command == "sign":
        timestamp = args.timestamp if args.timestamp is not None else int(time.time())
        print(header(payload, args.secret, timestamp))
        return 0
    now = args.now if args.now is not None else int(time.time())
    return 0 if verify(payload, args.secret, args.header, args.tolerance, now) else 1


if __name__ == "__main__":
    sys.exit(main())
