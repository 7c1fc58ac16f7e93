#!/usr/bin/env python3
"""Stripe-Signature headers for many payloads in one process.

The webhook burst test signs thousands of events; starting Python once per
event would dominate its run time. Same scheme and same code as
sign_webhook.py (imported from it), so the signatures stay independent of
payforms:

  sign_webhooks_batch.py --secret whsec_x [--timestamp 1700000000] < payloads.json
      payloads.json is a JSON array of strings (the raw bodies);
      prints one `t=...,v1=...` header per payload, in order.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sign_webhook import header  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--timestamp", type=int, default=None, help="unix seconds (default: now)")
    args = parser.parse_args()
    payloads = json.load(sys.stdin)
    if not isinstance(payloads, list) or not all(isinstance(p, str) for p in payloads):
        print("stdin must be a JSON array of strings", file=sys.stderr)
        return 2
    timestamp = args.timestamp if args.timestamp is not None else int(time.time())
    out = sys.stdout
    for payload in payloads:
        out.write(header(payload.encode("utf-8"), args.secret, timestamp))
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
