"""Rewrite stored CAs that are base64 DER as base64 PEM (what uploads now insist on).

Each row is decrypted and encrypted again exactly as the model does; every other credential
stays as it was. A row that no configured CREDENTIALS_KEY opens is left alone and named in
the log: the model converts its CA at use as well, once the key is back.
"""

import logging

from django.db import migrations

from controlplane.clusters.cadata import ca_is_der, ca_pem_b64
from controlplane.clusters.crypto import CredentialsUnreadable, decrypt_json, encrypt_json

log = logging.getLogger(__name__)


def ca_der_to_pem(apps, schema_editor):
    Cluster = apps.get_model("clusters", "Cluster")
    for cluster in Cluster.objects.exclude(credentials_encrypted="").only(
        "name", "credentials_encrypted"
    ):
        try:
            stored = decrypt_json(cluster.credentials_encrypted)
        except CredentialsUnreadable:
            log.warning("cluster %s: credentials unreadable, CA left as stored", cluster.name)
            continue
        if not ca_is_der(stored.get("ca_data")):
            continue
        stored["ca_data"] = ca_pem_b64(stored["ca_data"])
        Cluster.objects.filter(pk=cluster.pk).update(credentials_encrypted=encrypt_json(stored))
        log.info("cluster %s: DER certificate-authority-data converted to PEM", cluster.name)


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0003_alter_cluster_source"),
    ]

    # Going back keeps PEM: every reader of the older code accepts it too.
    operations = [migrations.RunPython(ca_der_to_pem, migrations.RunPython.noop)]
