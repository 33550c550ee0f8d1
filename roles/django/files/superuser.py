"""Create or update the superuser read from stdin as JSON (username, email, password).

Run by the django role with `manage.py shell --command`; prints whether anything changed, so the
role reports a change only when there was one.
"""

import json
import sys

from django.contrib.auth import get_user_model

wanted = json.loads(sys.stdin.read())
User = get_user_model()
user = User._default_manager.filter(**{User.USERNAME_FIELD: wanted["username"]}).first()
changed = user is None
if user is None:
    user = User(**{User.USERNAME_FIELD: wanted["username"]})
email_field = User.get_email_field_name()
if wanted["email"] and getattr(user, email_field, None) != wanted["email"]:
    setattr(user, email_field, wanted["email"])
    changed = True
for flag in ("is_active", "is_staff", "is_superuser"):
    if hasattr(user, flag) and not getattr(user, flag):
        setattr(user, flag, True)
        changed = True
if not user.check_password(wanted["password"]):
    user.set_password(wanted["password"])
    changed = True
if changed:
    user.save()
print("onebox-superuser:", "changed" if changed else "unchanged")
