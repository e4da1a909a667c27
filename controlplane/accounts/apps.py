from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "controlplane.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .grant_memo import memo_clear
        from .models import RoleGrant

        # A grant changed during a request: later checks in that request must see it.
        post_save.connect(memo_clear, sender=RoleGrant, weak=False)
        post_delete.connect(memo_clear, sender=RoleGrant, weak=False)
