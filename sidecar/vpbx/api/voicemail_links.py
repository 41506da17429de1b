"""GET /voicemail/<token>: the link in voicemail email (R13).

The signed token is the credential: whoever got the email may play the
recording (inline, so a browser's player opens it) or download it
(``?download=1``) for seven days; after that the link answers 410 Gone, and a
token we did not sign answers 404. Range requests are served, so players can seek.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, send_file

from ..notify import links
from .database import db

blueprint = Blueprint("voicemail_links", __name__)


@blueprint.get("/voicemail/<token>")
def play(token: str):
    media = current_app.config["VPBX_SETTINGS"].media
    try:
        message_id = links.verify(token, media.link_secret)
    except links.LinkExpired:
        return jsonify(
            code=410, status="Gone", message=f"this voicemail link was valid for {links.LINK_LIFETIME_S // 86400} days"
        ), 410
    except links.LinkInvalid:
        return jsonify(code=404, status="Not Found", message="no such voicemail link"), 404
    row = (
        db()
        .execute("SELECT file_name, caller, received_at FROM voicemail_messages WHERE id = %s", (message_id,))
        .fetchone()
    )
    path = media.data_dir / row["file_name"] if row else None
    if path is None or not path.is_file():
        return jsonify(code=410, status="Gone", message="this voicemail message has been deleted"), 410
    download = request.args.get("download") in ("1", "true", "yes")
    name = f"voicemail-{row['received_at']:%Y%m%d-%H%M%S}-{row['caller'] or 'unknown'}.wav"
    response = send_file(
        path, mimetype="audio/wav", as_attachment=download, download_name=name, conditional=True, max_age=0
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
