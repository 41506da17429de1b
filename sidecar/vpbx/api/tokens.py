"""/api/v1/tokens: the API tokens in use, and revoking them.

Everyone lists and revokes their own tokens; an administrator those of the
whole company. A revoked token is deleted: the next request with it is 401.
New tokens are issued per employee (POST /employees/{id}/tokens).
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from .auth import principal
from .blueprints import api_blueprint
from .database import db
from .errors import not_found

blueprint = api_blueprint("tokens", "/tokens", "API tokens: list and revoke")


class TokenInfoSchema(Schema):
    id = fields.Integer()
    employee_id = fields.Integer()
    label = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "none: until revoked"})
    current = fields.Boolean(metadata={"description": "the token this request was made with"})


def _visible(who) -> tuple[str, tuple]:
    """The SQL condition on ``t`` (api_tokens) and ``e`` (employees) for the tokens ``who`` may see."""
    if who.is_admin:
        return "e.company_id = %s", (who.company_id,)
    return "t.employee_id = %s", (who.employee_id,)


@blueprint.route("")
class Tokens(MethodView):
    @blueprint.response(200, TokenInfoSchema(many=True))
    def get(self):
        """Your tokens (an administrator: every token of the company), newest first."""
        who = principal()
        condition, params = _visible(who)
        rows = (
            db()
            .execute(
                f"""SELECT t.id, t.employee_id, t.label, t.created_at, t.expires_at
                  FROM api_tokens t JOIN employees e ON e.id = t.employee_id
                 WHERE {condition} ORDER BY t.id DESC""",
                params,
            )
            .fetchall()
        )
        return [{**row, "current": row["id"] == who.token_id} for row in rows]


@blueprint.route("/<int:token_id>")
class Token(MethodView):
    @blueprint.response(204)
    def delete(self, token_id):
        """Revoke a token: it stops working at once (this request's own token too)."""
        who = principal()
        condition, params = _visible(who)
        deleted = (
            db()
            .execute(
                f"""DELETE FROM api_tokens t USING employees e
                 WHERE e.id = t.employee_id AND t.id = %s AND {condition} RETURNING t.id""",
                (token_id, *params),
            )
            .fetchone()
        )
        if deleted is None:
            raise not_found("Token")
