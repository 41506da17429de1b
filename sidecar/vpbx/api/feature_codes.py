"""/api/v1/feature-codes: the star codes a company's phones dial (routing/feature_codes.py),
so a softphone integration or a help page lists them as routing knows them."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from ..routing.feature_codes import LISTED
from .blueprints import api_blueprint

blueprint = api_blueprint("feature_codes", "/feature-codes", "Feature codes phones dial")


class FeatureCodeSchema(Schema):
    code = fields.String(metadata={"description": "what the phone dials; <number> stands for a phone number"})
    feature = fields.String()
    description = fields.String()


@blueprint.route("")
class FeatureCodes(MethodView):
    @blueprint.response(200, FeatureCodeSchema(many=True))
    def get(self):
        """Every feature code, as any employee's phone may dial it."""
        return [{"code": code, "feature": feature, "description": what} for code, feature, what in LISTED]
