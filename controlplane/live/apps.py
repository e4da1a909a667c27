from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "controlplane.live"
    label = "live"
    verbose_name = "Live view"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from controlplane.accounts.models import RoleGrant

        from . import access

        post_save.connect(access.on_grant_changed, sender=RoleGrant, weak=False)
        post_delete.connect(access.on_grant_changed, sender=RoleGrant, weak=False)
        post_save.connect(access.on_user_saved, sender=get_user_model(), weak=False)
        user_logged_out.connect(access.on_logged_out, weak=False)
