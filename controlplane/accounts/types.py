"""Type names for the signatures of services and selectors (checked statically only)."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

# Whoever a request is from: a signed-in user, or anonymous (refused, and audited as such).
User = AbstractBaseUser | AnonymousUser
