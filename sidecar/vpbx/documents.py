"""The compiled routing documents as they sit in Redis: their keys and their encoding.

The compiler writes them (``config.compile``, ``config.publish``); Kamailio's
workers (``kamailio_adapter``), the media app and the CRM lookup read them.
Every one of them names a key or parses a document through this module only,
so a writer and a reader cannot disagree on either.

A document carries a version (its compile time in ns), also stored under its
own small key (``version_key``): a worker reads only that on each call and
fetches the document itself (up to hundreds of kilobytes for a big company)
only when its in-process copy is out of date.
"""

from __future__ import annotations

import json

# Bumped when a document's shape changes in a way an older reader would misread
# (6: a company's ivr_keys hold every key, not only those that ring people).
DOCUMENT_SCHEMA = 6

KEY_PREFIX = "vpbx:number:"
COMPANY_KEY_PREFIX = "vpbx:company:"
# What a route decided on the fly (a webhook's answer, the CRM's manager) can
# name: every employee, department, scheme and webhook of a company. Read only
# for calls that need a lookup, so the direct-call document stays small.
DIRECTORY_KEY_PREFIX = "vpbx:directory:"
DOCUMENT_PREFIXES = (KEY_PREFIX, COMPANY_KEY_PREFIX, DIRECTORY_KEY_PREFIX)
VERSION_KEY_PREFIX = "vpbx:version:"
# Hashes of the clients each company's CRM pushed: phone -> employee id (R16).
CRM_CLIENTS_KEY_PREFIX = "vpbx:crm:clients:"
# Set by every full build: its absence means Redis lost the documents.
GENERATION_KEY = "vpbx:cache:generation"


def number_key(e164: str) -> str:
    return KEY_PREFIX + e164


def company_key(sip_domain: str) -> str:
    return COMPANY_KEY_PREFIX + sip_domain


def directory_key(sip_domain: str) -> str:
    return DIRECTORY_KEY_PREFIX + sip_domain


def crm_clients_key(company_id: int) -> str:
    return CRM_CLIENTS_KEY_PREFIX + str(company_id)


def version_key(document_key: str) -> str:
    """``vpbx:number:+7495…`` -> ``vpbx:version:number:+7495…`` (outside the documents' prefixes)."""
    return VERSION_KEY_PREFIX + document_key.removeprefix("vpbx:")


def encode_document(document: dict) -> str:
    """``<version> <json>``: a reader compares the version before parsing anything."""
    return f"{document['version']} {json.dumps(document, separators=(',', ':'))}"


def decode_document(raw: bytes) -> tuple[bytes, dict]:
    version, _, body = raw.partition(b" ")
    return version, json.loads(body)


def document_writes(key: str, document: dict) -> dict[str, str]:
    """What to MSET for a document: itself and its version key, written together."""
    return {key: encode_document(document), version_key(key): str(document["version"])}
