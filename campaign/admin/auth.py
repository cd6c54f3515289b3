"""Loading the signed-in organizer for Flask-Login.

The session holds `<id>:<session_token>`; rotating the token (on logout or a
password change) ends every session of that account on the server side.
"""

from __future__ import annotations

import hmac

from flask_login import UserMixin

from ..extensions import db, login_manager
from ..models import AdminUser


class Organizer(UserMixin):
    def __init__(self, user: AdminUser) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_token}"

    @property
    def role(self) -> str:
        return self.user.role


@login_manager.user_loader
def load_organizer(session_id: str) -> Organizer | None:
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(AdminUser, int(user_id))
    if user is None or user.disabled or not hmac.compare_digest(user.session_token, token):
        return None
    return Organizer(user)
