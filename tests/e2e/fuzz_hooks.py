"""schemathesis hooks (SCHEMATHESIS_HOOKS): uploads of recordings are sent as
the raw bytes they are, like any binary body."""

import schemathesis

schemathesis.serializer.alias(["audio/wav", "audio/mpeg", "audio/ogg", "audio/flac"], "application/octet-stream")
